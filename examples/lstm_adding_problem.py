"""An LSTM that must remember: the adding problem, and the vanishing gradient told through time.

Each sequence holds T random numbers, two of them marked; the target is the sum of the two
marked ones, read after the last step. Predicting the mean sum scores 1/6 (the variance of a
sum of two uniform numbers); a network that remembers the marked values across the steps in
between does far better. The cell runs under `gc.scan` (PyTorch's gate order, forget gate first
set open); the whole training step (forward, backward through time, Adam) is one compiled call.

Then the seeds' story of vanishing gradients, told again through time: how much of the
gradient reaches each step's input. Through a plain tanh RNN whose recurrent matrix shrinks
vectors (by 0.8 here) it is multiplied by that matrix and by tanh' at every step back, and
fades; through the LSTM's cell, whose forget gate starts open, it arrives nearly whole.
`--report` writes the training step's report page, its loss curve and its loops included, and
a page drawing both gradient curves.
"""

import sys

import numpy as np

import graphc as gc

T, BATCH, HIDDEN, STEPS = 12, 64, 24, 600
rng = np.random.default_rng(0)


def glorot(fan_in: int, fan_out: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)


def lstm(xs, wx, wh, b):
    """The last hidden state of an LSTM over time-major xs (gates input, forget, cell, output)."""
    batch, hidden = xs.shape[1], wh.shape[0]

    def cell(carry, x):
        h, c = carry
        z = x @ wx + h @ wh + b
        i, f = gc.sigmoid(z[:, :hidden]), gc.sigmoid(z[:, hidden:2 * hidden])
        g, o = gc.tanh(z[:, 2 * hidden:3 * hidden]), gc.sigmoid(z[:, 3 * hidden:])
        c = f * c + i * g
        return (o * gc.tanh(c), c), None

    zeros = np.zeros((batch, hidden), np.float32)
    (h, _), _ = gc.scan(cell, (zeros, zeros), xs)
    return h


def rnn(xs, wx, wh, b):
    """The last hidden state of a plain tanh RNN."""
    zeros = np.zeros((xs.shape[1], wh.shape[0]), np.float32)
    h, _ = gc.scan(lambda h, x: (gc.tanh(x @ wx + h @ wh + b), None), zeros, xs)
    return h


def lstm_weights(n_in: int, hidden: int) -> list[np.ndarray]:
    bias = np.zeros(4 * hidden, np.float32)
    bias[hidden:2 * hidden] = 3.0  # the forget gate starts open: sigmoid(3) = 0.95
    return [glorot(n_in, 4 * hidden), glorot(hidden, 4 * hidden), bias]


def batch(steps: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps, size, 2): a value and a marker per step, two marked; and the marked values' sum."""
    values = rng.uniform(0, 1, (steps, size)).astype(np.float32)
    marks = np.zeros((steps, size), np.float32)
    for j in range(size):
        marks[rng.choice(steps, 2, replace=False), j] = 1.0
    return np.stack([values, marks], -1), (values * marks).sum(0)


# Training on the adding problem.
params = [gc.variable(w) for w in lstm_weights(2, HIDDEN)] + [gc.variable(glorot(HIDDEN, 1)),
                                                              gc.variable(np.zeros(1, np.float32))]
x = gc.placeholder((T, BATCH, 2), name="x")
target = gc.placeholder((BATCH,), name="target")
prediction = gc.reshape(lstm(x, *params[:3]) @ params[3] + params[4], (BATCH,))
loss = gc.mean((prediction - target) ** 2)
step = gc.compile([x, target], loss, updates=gc.optim.adam(loss, params, lr=0.01))
for k in range(STEPS):
    value = float(step(*batch(T, BATCH)))
    if k % 150 == 0 or k == STEPS - 1:
        print(f"step {k:4d}  mean squared error {value:.4f}  (predicting the mean: {1 / 6:.4f})")
recent = float(np.mean(step.losses()[-50:]))  # every batch is new: each step meets unseen sequences
print(f"last 50 steps: {recent:.4f}, {1 / 6 / recent:.0f}x better than predicting the mean")
assert recent < 0.02
if "--report" in sys.argv:
    print("report page:", step.save_html("lstm_adding_problem.html"))

# The gradient through time: how much reaches each step's input, plain tanh RNN against LSTM.
LONG = 40
xs = gc.placeholder((LONG, 32, 2), name="xs")
data = batch(LONG, 32)[0]
norms = {}
# The RNN's recurrent matrix: orthogonal, scaled to shrink every direction by 0.8 per step; the
# gradient going back one step is multiplied by it and by tanh' <= 1, so it can only shrink.
recurrent = (np.linalg.qr(rng.standard_normal((HIDDEN, HIDDEN)))[0] * 0.8).astype(np.float32)
for name, model, weights in (("tanh RNN", rnn, [glorot(2, HIDDEN), recurrent, np.zeros(HIDDEN, np.float32)]),
                             ("LSTM", lstm, lstm_weights(2, HIDDEN))):
    reached = gc.grad(gc.sum(model(xs, *weights)), xs)  # d (sum of the last hidden state) / d input
    norms[name] = gc.compile([xs], gc.sqrt(gc.sum(reached * reached, axis=(1, 2))), backend="numpy")(data)
print(f"\ngradient norm reaching each step's input ({LONG} steps; the last step = 1):")
for name, norm in norms.items():
    relative = norm / norm[-1]
    bars = " ".join(f"{v:.2g}" for v in relative[::8])
    print(f"  {name:8}  steps 0, 8, 16, 24, 32: {bars}")
if "--report" in sys.argv:  # the two curves, drawn by graphc's own pictures, on one page
    from graphc.inspection.pictures import curve_svg

    pictures = "".join(f"<h2>{name}</h2>" + curve_svg(list(norm / norm[-1]), "gradient norm at step t / at the last step")
                       for name, norm in norms.items())
    with open("vanishing_gradient_through_time.html", "w") as page:
        page.write(f"<!DOCTYPE html><html><body><h1>The gradient reaching each step's input</h1>{pictures}</body></html>")
    print("gradient through time: vanishing_gradient_through_time.html")
rnn_first, lstm_first = (norms[k][0] / norms[k][-1] for k in ("tanh RNN", "LSTM"))
print(f"the first step gets {rnn_first:.1e} of the last step's gradient through the RNN, {lstm_first:.2f} through the LSTM")
assert lstm_first > 5 * rnn_first
