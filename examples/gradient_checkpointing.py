"""Gradient checkpointing, as the tutorials teach it: training keeps every layer's activations for
the backward pass; `gc.checkpoint(layer, h)` keeps only each block's input and recomputes the
rest during the backward pass. graphc plans the memory of the whole step, so the saving shows
in the arena it allocates, and the step computes exactly the same numbers.

Then the compiler chooses for itself: `memory_budget=` recomputes the pointwise work of a
GELU network so that its training step fits in 85% of the memory (what is left is the
matrix products, which it never recomputes), and says what it cannot reach.
"""

import numpy as np

import graphc as gc

DEPTH, WIDTH, BATCH = 16, 256, 512
rng = np.random.default_rng(0)
weights = [gc.variable((rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH)).astype(np.float32), name=f"w{i}")
           for i in range(DEPTH)]
x = gc.placeholder((BATCH, WIDTH), name="x")
data = rng.standard_normal((BATCH, WIDTH)).astype(np.float32)


def layer(w):
    """Two tanh and a scale: each keeps activations for its derivative."""
    return lambda h: gc.tanh(gc.tanh(h @ w) * 1.5 + 0.1)


def loss_of(checkpointed: bool):
    h = x
    for w in weights:
        h = gc.checkpoint(layer(w), h) if checkpointed else layer(w)(h)
    return gc.mean(h * h)


inference = gc.compile([x], loss_of(False))
plain_loss, ckpt_loss = loss_of(False), loss_of(True)
plain = gc.compile([x], [plain_loss, *gc.grad(plain_loss, weights)])
ckpt = gc.compile([x], [ckpt_loss, *gc.grad(ckpt_loss, weights)])
mib = 1 << 20
print(f"{DEPTH} layers of {WIDTH}, batch {BATCH}, float32; memory each compiled step allocates:")
print(f"  inference (loss only)        {inference.memory.arena_bytes / mib:6.1f} MiB")
print(f"  training, every activation   {plain.memory.arena_bytes / mib:6.1f} MiB")
print(f"  training, checkpointed       {ckpt.memory.arena_bytes / mib:6.1f} MiB")
a, b = plain(data), ckpt(data)
same = all(np.array_equal(u, v) for u, v in zip(a, b))
print(f"loss {a[0]:.6f} both ways; gradients bit-identical: {same}")
assert same and ckpt.memory.arena_bytes < 0.75 * plain.memory.arena_bytes

# The compiler chooses: a budget in bytes, met by recomputing pointwise work (never the products).
def gated_loss():
    h = x
    for w in weights:
        u = h @ w
        h = gc.gelu(u) * gc.sigmoid(u)  # a gated activation: three values kept per layer
    return gc.mean(h * h)


gated = gated_loss()
outputs = [gated, *gc.grad(gated, weights)]
full = gc.compile([x], outputs)
budget = int(0.85 * full.memory.arena_bytes)
fitted = gc.compile([x], outputs, memory_budget=budget)
print(f"gated GELU network, training step: {full.memory.arena_bytes / mib:.1f} MiB; with memory_budget="
      f"{budget / mib:.1f} MiB: {fitted.memory.arena_bytes / mib:.1f} MiB")
print(" ", next(r for r in fitted.passes if r.name == "remat").notes[0])
same = all(np.array_equal(u, v) for u, v in zip(full(data), fitted(data)))
print(f"  gradients bit-identical: {same}")
assert same and fitted.memory.arena_bytes <= budget
try:
    gc.compile([x], outputs, memory_budget=inference.memory.arena_bytes)
except gc.GraphError as exc:
    print(f"  a budget of the inference step's memory: {exc.detail[:120]}...")
