"""A small CNN learns to read handwritten digits: scikit-learn's 8x8 digits (1,797 real scans that
ship inside the package), two conv + ReLU + max-pool blocks and a dense layer, trained with AdamW
in one compiled step. It reaches at least 97% accuracy on digits it never saw.

scikit-learn is an optional extra (`pip install 'graphc[examples]'`); without it this example
says so and does nothing. `--long` trains four times longer.
"""

import sys

import numpy as np

import graphc as gc

try:
    from sklearn.datasets import load_digits
except ImportError:
    load_digits = None

EPOCHS = 100 if "--long" in sys.argv else 25
BATCH = 64


def model(x, params):
    """Logits of images x (N, 1, 8, 8): 8x8 -> conv 3x3 (16) -> pool -> 4x4 -> conv 3x3 (32) ->
    pool -> 2x2 -> dense 10."""
    w1, b1, w2, b2, w3, b3 = params
    h = gc.max_pool2d(gc.relu(gc.conv2d(x, w1, padding=1) + gc.reshape(b1, (-1, 1, 1))), 2)
    h = gc.max_pool2d(gc.relu(gc.conv2d(h, w2, padding=1) + gc.reshape(b2, (-1, 1, 1))), 2)
    return gc.reshape(h, (h.shape[0], -1)) @ w3 + b3


def main() -> None:
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8) in [0, 1]
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(images))
    test, train = order[:360], order[360:]
    rng = np.random.default_rng(1)

    def he(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))).astype(np.float32)

    params = [gc.variable(v, name=n) for n, v in [
        ("w1", he(16, 1, 3, 3)), ("b1", np.zeros(16, np.float32)), ("w2", he(32, 16, 3, 3)),
        ("b2", np.zeros(32, np.float32)), ("w3", he(128, 10).reshape(128, 10)), ("b3", np.zeros(10, np.float32))]]
    x, y = gc.placeholder((BATCH, 1, 8, 8), name="x"), gc.placeholder((BATCH,), "int64", name="y")
    loss = gc.mean(gc.softmax_cross_entropy(model(x, params), y))
    step = gc.compile([x, y], loss, updates=gc.optim.adamw(loss, params, lr=3e-3, weight_decay=1e-4))
    every = gc.placeholder((len(test), 1, 8, 8), name="test_images")
    predict = gc.compile([every], gc.argmax(model(every, params), 1))

    def accuracy() -> float:
        return float(np.mean(predict(images[test]) == labels[test]))

    print(f"{len(train)} training digits, {len(test)} held out; accuracy before training {accuracy():.1%}")
    batches = len(train) // BATCH
    for epoch in range(EPOCHS):
        shuffled = rng.permutation(train)[: batches * BATCH].reshape(batches, BATCH)
        losses = step.run_many(images[shuffled], labels[shuffled])  # one epoch in one native call
        if epoch % 5 == 4 or epoch == EPOCHS - 1:
            print(f"epoch {epoch + 1:3d}: mean loss {losses.mean():.4f}, held-out accuracy {accuracy():.1%}")
    final = accuracy()
    print(f"held-out accuracy after {EPOCHS} epochs: {final:.1%}")
    assert final >= 0.97, final


if __name__ == "__main__":
    if load_digits is None:
        print("This example needs scikit-learn (its 8x8 digits data set): pip install 'graphc[examples]'")
    else:
        main()
