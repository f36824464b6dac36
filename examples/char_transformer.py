"""A character-level transformer learns to write Python, from the Python standard library's own
source files (text that ships with every Python). A 2-layer pre-LN GPT (causal multi-head
attention, GELU MLPs, learned positions) trains with AdamW and a clipped gradient in one
compiled step; it writes a sample before and after training, and its loss curve is drawn in
the report page (`--report page.html`). `--long` trains ten times longer.
"""

import pathlib
import sys
import textwrap

import numpy as np

import graphc as gc

STEPS = 2000 if "--long" in sys.argv else 200
CONTEXT, BATCH, WIDTH, HEADS, LAYERS = 32, 32, 64, 4, 2


def corpus() -> str:
    """The source of a few standard-library modules, as printable ASCII."""
    import argparse
    import difflib
    import json.decoder
    import string

    text = "".join(pathlib.Path(m.__file__).read_text(encoding="utf-8") for m in (textwrap, string, argparse, difflib,
                                                                                     json.decoder))
    return "".join(ch if " " <= ch <= "~" or ch == "\n" else "?" for ch in text)


def init(vocab: int, rng: np.random.Generator) -> list:
    def normal(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    ones, zeros = (lambda n: np.ones(n, np.float32)), (lambda n: np.zeros(n, np.float32))
    values = [normal(vocab, WIDTH), normal(CONTEXT, WIDTH)]
    for _ in range(LAYERS):
        values += [ones(WIDTH), zeros(WIDTH), normal(WIDTH, 3 * WIDTH), zeros(3 * WIDTH), normal(WIDTH, WIDTH),
                   zeros(WIDTH), ones(WIDTH), zeros(WIDTH), normal(WIDTH, 4 * WIDTH), zeros(4 * WIDTH),
                   normal(4 * WIDTH, WIDTH), zeros(WIDTH)]
    values += [ones(WIDTH), zeros(WIDTH), normal(WIDTH, vocab), zeros(vocab)]
    return [gc.variable(v, name=f"p{i}") for i, v in enumerate(values)]


def logits(tokens, params):
    """Next-character logits (B, T, vocab) of token ids (B, T)."""
    batch, context = tokens.shape
    future = np.triu(np.ones((context, context), bool), 1)  # [t, u]: u comes after t
    h = params[0][tokens] + params[1][:context]  # token and position embeddings
    at = 2
    for _ in range(LAYERS):
        g1, c1, w_qkv, b_qkv, w_o, b_o, g2, c2, w1, b1, w2, b2 = params[at:at + 12]
        at += 12
        qkv = gc.reshape(gc.layer_norm(h, g1, c1) @ w_qkv + b_qkv, (batch, context, 3, HEADS, WIDTH // HEADS))
        q, k, v = (gc.transpose(qkv[:, :, i], (0, 2, 1, 3)) for i in range(3))  # (B, heads, T, width)
        scores = gc.einsum("bhtd,bhud->bhtu", q, k) / np.sqrt(WIDTH // HEADS)
        attention = gc.softmax(gc.where(future, -1e9, scores), -1)
        mixed = gc.reshape(gc.transpose(attention @ v, (0, 2, 1, 3)), (batch, context, WIDTH))
        h = h + (mixed @ w_o + b_o)
        h = h + (gc.gelu(gc.layer_norm(h, g2, c2) @ w1 + b1) @ w2 + b2)
    gf, cf, w_out, b_out = params[at:]
    return gc.layer_norm(h, gf, cf) @ w_out + b_out


def sample(next_logits, prompt: np.ndarray, n: int, rng: np.random.Generator, chars: str) -> str:
    """n characters after `prompt`, each drawn from the softmax of the model's logits (temperature 0.8)."""
    window = list(prompt[-CONTEXT:])
    out = []
    for _ in range(n):
        z = next_logits(np.array([window[-CONTEXT:]]))[0, -1].astype(np.float64) / 0.8
        p = np.exp(z - z.max())
        window.append(int(rng.choice(len(p), p=p / p.sum())))
        out.append(chars[window[-1]])
    return "".join(out)


def main() -> None:
    text = corpus()
    chars = "".join(sorted(set(text)))
    data = np.array([chars.index(ch) for ch in text], np.int64)
    rng = np.random.default_rng(0)
    params = init(len(chars), rng)
    x = gc.placeholder((BATCH, CONTEXT), "int64", name="x")
    y = gc.placeholder((BATCH, CONTEXT), "int64", name="y")
    loss = gc.mean(gc.softmax_cross_entropy(logits(x, params), y))
    grads, norm = gc.optim.clip_by_global_norm(gc.grad(loss, params), 1.0)
    updates = gc.optim.adamw(loss, params, lr=3e-3, weight_decay=0.01, grads=grads)  # steps with the clipped ones
    step = gc.compile([x, y], [loss, norm], updates=updates)
    window = gc.placeholder((1, CONTEXT), "int64", name="window")
    next_logits = gc.compile([window], logits(window, params))
    prompt = data[:CONTEXT]
    print(f"{len(text):,} characters of standard-library source, {len(chars)} distinct; prompt:")
    print(textwrap.indent(text[:CONTEXT], "    "))
    print("before training it writes:\n" + textwrap.indent(sample(next_logits, prompt, 120, rng, chars), "    "))
    starts = rng.integers(0, len(data) - CONTEXT - 1, size=(STEPS, BATCH))
    offsets = starts[..., None] + np.arange(CONTEXT)
    losses, norms = step.run_many(data[offsets], data[offsets + 1])  # every step in one native call
    print(f"loss {losses[:10].mean():.3f} (first 10 steps) -> {losses[-10:].mean():.3f} (last 10) in {STEPS} steps;"
          f" gradient norm {norms[0]:.2f} -> {norms[-1]:.2f}")
    print("after training it writes:\n" + textwrap.indent(sample(next_logits, prompt, 240, rng, chars), "    "))
    if "--report" in sys.argv:
        path = sys.argv[sys.argv.index("--report") + 1]
        step.save_html(path)
        print(f"report page with the loss curve: {path}")
    assert losses[-10:].mean() < 0.7 * losses[:10].mean()


if __name__ == "__main__":
    main()
