"""Gradient checkpointing, as the tutorials teach it: training keeps every layer's activations for
the backward pass; `gc.checkpoint(layer, h)` keeps only each block's input and recomputes the
rest during the backward pass. graphc plans the memory of the whole step, so the saving shows
in the arena it allocates, and the step computes exactly the same numbers.

Then the compiler chooses for itself: `memory_budget=` brings the same training step within half
its memory (recomputing what it must, the same numbers again), and says what it cannot reach.
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

# The compiler chooses: the same training step under half the memory, by memory_budget= alone.
budget = plain.memory.arena_bytes // 2
halved = gc.compile([x], [plain_loss, *gc.grad(plain_loss, weights)], memory_budget=budget)
print(f"training, memory_budget=half  {halved.memory.arena_bytes / mib:6.1f} MiB (budget {budget / mib:.1f} MiB)")
print(" ", next(r for r in halved.passes if r.name == "remat").notes[0])
same = all(np.array_equal(u, v) for u, v in zip(a, halved(data)))
print(f"  gradients bit-identical: {same}")
assert same and halved.memory.arena_bytes <= budget
try:
    gc.compile([x], [plain_loss, *gc.grad(plain_loss, weights)], memory_budget=inference.memory.arena_bytes)
except gc.GraphError as exc:
    print(f"  a budget of the inference step's memory: {exc.detail[:120]}...")
