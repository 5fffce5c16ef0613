#!/usr/bin/env python3
"""Tiny random checkpoints of real model families, and their reference logits.

For every family: a random checkpoint built with `transformers` from the family's own
config class (small sizes, a 320-token vocabulary), its init scaled so the logits have
real margins and every weight rounded to an f16 value (so the F16 GGUF holds exactly the
weights PyTorch ran), converted with llama.cpp's own `convert_hf_to_gguf.py`, quantized
with llama.cpp's quantizer, and these references written to
`crates/core/tests/data/families/<name>/`:

  <name>.F16.gguf, <name>.Q8_0.gguf, <name>.Q4_K_M.gguf   the converted/quantized model
  torch.f32        PyTorch f32 logits [n_tokens, vocab], little-endian
  ref.json         tokens, versions, command, and per weight type llama.cpp's top-1 ids
                   and top-1/top-2 margins at every position and its greedy continuation

Run by hand in its own virtualenv (torch stays out of CI):

  python3 -m venv /root/.cache/wren/gen-venv
  /root/.cache/wren/gen-venv/bin/pip install --index-url https://download.pytorch.org/whl/cpu torch
  /root/.cache/wren/gen-venv/bin/pip install transformers safetensors numpy sentencepiece
  PYTHONPATH=/root/.cache/wren/bench-venv/lib/python3.11/site-packages \\
    /root/.cache/wren/gen-venv/bin/python scripts/gen_families.py [family ...]

llama-cpp-python (0.3.36, built in the bench venv) provides the quantizer and the llama.cpp
logits; its pure-Python package is imported from that venv's site-packages.

`--requant TYPE[,TYPE] family ...` needs no torch: it quantizes a family's committed F16
file to more llama.cpp types (IQ4_NL, IQ4_XS, ...) and adds their llama.cpp references to
its ref.json, leaving the rest as it is:

  ~/.cache/wren/bench-venv/bin/python scripts/gen_families.py --requant IQ4_NL,IQ4_XS llama3
"""

import ctypes
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

try:  # not needed by --requant
    import torch
    import transformers
except ImportError:
    torch = transformers = None

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "crates/core/tests/data/families"
LLAMA_CPP = Path(
    os.environ.get(
        "LLAMA_CPP_DIR", "/work/dl/x/llama_cpp_python-0.3.36/vendor/llama.cpp"
    )
)
VOCAB = 320
N_TOKENS = 64
N_GREEDY = 24
QUANTS = {"Q8_0": 7, "Q4_K_M": 15}  # llama_ftype values
MORE_QUANTS = {"IQ4_NL": 25, "IQ4_XS": 30}  # for --requant


def common(**kw):
    base = dict(
        vocab_size=VOCAB,
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        rms_norm_eps=1e-6,
        bos_token_id=256,
        eos_token_id=257,
        pad_token_id=None,
    )
    base.update(kw)
    return base


def fam_qwen2():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(**common(rope_theta=10000.0, tie_word_embeddings=False))
    return cfg, Qwen2ForCausalLM, None


def fam_qwen3():
    from transformers import Qwen3Config, Qwen3ForCausalLM

    # head_dim × heads (8 × 64 = 512) differs from hidden (256), as in Qwen3-0.6B.
    cfg = Qwen3Config(
        **common(
            num_attention_heads=8,
            head_dim=64,
            rope_theta=1000000.0,
            tie_word_embeddings=True,
        )
    )
    return cfg, Qwen3ForCausalLM, None


def fam_phi3():
    from transformers import Phi3Config, Phi3ForCausalLM

    # Phi-4-mini's shape: partial rotary (0.75), tied head; fused qkv_proj / gate_up_proj.
    cfg = Phi3Config(
        **common(
            rope_theta=10000.0,
            partial_rotary_factor=0.75,
            tie_word_embeddings=True,
            original_max_position_embeddings=512,
            sliding_window=None,
        )
    )
    return cfg, Phi3ForCausalLM, None


def fam_llama3():
    from transformers import LlamaConfig, LlamaForCausalLM

    # Llama 3.x rope scaling with a short original context so that most frequencies are
    # rescaled within the test's 88 positions (the converter writes rope_freqs.weight).
    cfg = LlamaConfig(
        **common(
            rope_theta=10000.0,
            tie_word_embeddings=True,
            rope_scaling={
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 32,
            },
        )
    )
    return cfg, LlamaForCausalLM, None


MINICPM = dict(scale_emb=12.0, scale_depth=1.4, dim_model_base=64)


def fam_minicpm():
    """MiniCPM (1/2/4) is not in transformers (remote code): a Llama with μP scales.

    From openbmb's modeling_minicpm.py: inputs_embeds = embed(ids) · scale_emb; every
    residual branch (attention and MLP output) · scale_depth / √num_hidden_layers before
    it is added; logits = lm_head(h / (hidden_size / dim_model_base)). The weights and
    tensor names are Llama's, so the checkpoint is saved as a Llama and its config.json
    rewritten as MiniCPM's for the converter.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(**common(rope_theta=10000.0, tie_word_embeddings=True))
    return cfg, LlamaForCausalLM, MINICPM


# MiniCPM4's sparse_config, shrunk to the test's 88 positions (the real one: blocks of 64,
# top 64, one sink block, a 2048-token window, dense below 8192 tokens).
SPARSE_CONFIG = dict(
    kernel_size=32,
    kernel_stride=16,
    init_blocks=1,
    block_size=8,
    window_size=16,
    topk=2,
    use_nope=False,
    dense_len=32,
)


def fam_minicpm4():
    """MiniCPM4: MiniCPM's μP plus LongRoPE (short factors up to the original context) and
    InfLLM-v2 (`sparse_config`, kept in the family's config.json for `wren sparsify`)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    half = 64 // 2
    cfg = LlamaConfig(
        **common(
            rope_theta=10000.0,
            tie_word_embeddings=True,
            rope_scaling={
                "rope_type": "longrope",
                "short_factor": [1.0 + 0.1 * i for i in range(half)],
                "long_factor": [2.0 + 0.2 * i for i in range(half)],
                "original_max_position_embeddings": 512,
            },
        )
    )
    return cfg, LlamaForCausalLM, dict(MINICPM, sparse_config=SPARSE_CONFIG)


def fam_qwen3moe():
    """Qwen3-MoE: Qwen3's attention, every layer's FFN a router over 8 experts, top 2 with
    their probabilities renormalized (llama.cpp always renormalizes for qwen3moe)."""
    from transformers import Qwen3MoeConfig, Qwen3MoeForCausalLM

    cfg = Qwen3MoeConfig(
        **common(
            num_attention_heads=8,
            head_dim=64,
            rope_theta=1000000.0,
            tie_word_embeddings=False,
            num_experts=8,
            num_experts_per_tok=2,
            moe_intermediate_size=256,
            norm_topk_prob=True,
            decoder_sparse_step=1,
            mlp_only_layers=[],
        )
    )
    return cfg, Qwen3MoeForCausalLM, None


FAMILIES = {
    "qwen2": fam_qwen2,
    "qwen3": fam_qwen3,
    "phi3": fam_phi3,
    "llama3": fam_llama3,
    "minicpm": fam_minicpm,
    "minicpm4": fam_minicpm4,
    "qwen3moe": fam_qwen3moe,
}


def init_weights(model, seed, tied):
    """Random weights with real logit margins, rounded to f16 values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "layernorm" in name:
                v = 1.0 + 0.2 * torch.randn(p.shape, generator=g)
            elif name.endswith("bias"):
                v = 0.3 * torch.randn(p.shape, generator=g)
            elif "embed_tokens" in name:
                v = (0.4 if tied else 1.0) * torch.randn(p.shape, generator=g)
            elif name.endswith("mlp.gate.weight"):
                # A decisive router: top-2 choices with real margins, so that
                # quantization rarely flips which experts run.
                v = 4.0 / math.sqrt(p.shape[-1]) * torch.randn(p.shape, generator=g)
            elif "lm_head" in name:
                v = 8.0 / math.sqrt(p.shape[1]) * torch.randn(p.shape, generator=g)
            else:
                gain = 1.5 if any(s in name for s in ("q_proj", "k_proj", "qkv")) else 1.0
                # Fan-in is the last dimension (2-D [out, in], 3-D experts [E, out, in]).
                v = gain / math.sqrt(p.shape[-1]) * torch.randn(p.shape, generator=g)
            p.copy_(v.half().float())


# Smallest gap kept between the router logits of the last chosen expert and the next one
# (see `decisive_router`).
ROUTER_GAP = 0.04


def routing_gap(model, tokens):
    """Smallest gap between the k-th and (k+1)-th router logit over all positions and
    layers of a mixture-of-experts model."""
    k = model.config.num_experts_per_tok
    gaps = []
    hooks = [
        layer.mlp.gate.register_forward_hook(
            lambda m, i, o: gaps.append(
                (lambda s: (s[:, k - 1] - s[:, k]).min().item())(
                    o[0].sort(-1, descending=True).values
                )
            )
        )
        for layer in model.model.layers
    ]
    with torch.no_grad():
        model(torch.tensor([tokens]))
    for h in hooks:
        h.remove()
    return min(gaps)


def decisive_router(model, tokens, seed):
    """Redraws the routers until no routing decision is a near-tie. Which experts run is a
    discontinuous function of the activations: where the k-th and (k+1)-th experts' router
    logits are within quantization noise of each other, llama.cpp and wren may each pick
    either, and the logits then differ by far more than any arithmetic error. Like a
    near-tie in the logits themselves, such positions say nothing about correctness."""
    g = torch.Generator().manual_seed(seed + 7)
    for attempt in range(1000):
        gap = routing_gap(model, tokens)
        if gap >= ROUTER_GAP:
            print(f"  router: smallest routing gap {gap:.3f} after {attempt} redraws")
            return
        with torch.no_grad():
            for layer in model.model.layers:
                w = layer.mlp.gate.weight
                v = 4.0 / math.sqrt(w.shape[-1]) * torch.randn(w.shape, generator=g)
                w.copy_(v.half().float())
    raise RuntimeError("no decisive router in 1000 draws")


def torch_logits(model, tokens, mu):
    ids = torch.tensor([tokens])
    with torch.no_grad():
        if mu is None:
            return model(ids).logits[0].float().numpy()
        # MiniCPM's μP scales around a Llama body.
        n_layer = model.config.num_hidden_layers
        rs = mu["scale_depth"] / math.sqrt(n_layer)
        hooks = []
        for layer in model.model.layers:
            for mod in (layer.self_attn.o_proj, layer.mlp.down_proj):
                hooks.append(mod.register_forward_hook(lambda m, i, o: o * rs))
        emb = model.model.embed_tokens(ids) * mu["scale_emb"]
        h = model.model(inputs_embeds=emb).last_hidden_state
        for hk in hooks:
            hk.remove()
        scale = model.config.hidden_size / mu["dim_model_base"]
        return model.lm_head(h / scale)[0].float().numpy()


CONVERT_WRAPPER = r"""
import sys, runpy
sys.path.insert(0, sys.argv[1])
import conversion
VOCAB = int(sys.argv[2])

def tiny_vocab(self):
    # A byte-level vocabulary of VOCAB tokens (the 256 byte symbols, one merge, specials):
    # tokenizers are proven on real vocabularies elsewhere.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    toks = [chr(c) for c in cs] + ["\u0120t"]
    toks += ["<|x%d|>" % i for i in range(VOCAB - len(toks))]
    types = [1] * 257 + [3] * (VOCAB - 257)
    w = self.gguf_writer
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(toks)
    w.add_token_types(types)
    w.add_token_merges(["\u0120 t"])
    w.add_bos_token_id(257)
    w.add_eos_token_id(258)
    w.add_add_bos_token(False)

orig = conversion.get_model_class
def get_model_class(name, mmproj=False):
    cls = orig(name, mmproj)
    cls.set_vocab = tiny_vocab
    return cls
conversion.get_model_class = get_model_class
sys.argv = [sys.argv[3]] + sys.argv[4:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def convert(ckpt, out):
    env = dict(os.environ, PYTHONPATH=str(LLAMA_CPP / "gguf-py"))
    subprocess.run(
        [
            sys.executable,
            "-c",
            CONVERT_WRAPPER,
            str(LLAMA_CPP),
            str(VOCAB),
            str(LLAMA_CPP / "convert_hf_to_gguf.py"),
            str(ckpt),
            "--outtype",
            "f16",
            "--outfile",
            str(out),
        ],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def llama_refs(path, tokens):
    import llama_cpp

    llm = llama_cpp.Llama(
        model_path=str(path),
        n_ctx=256,
        n_batch=256,
        n_threads=2,
        logits_all=True,
        verbose=False,
    )
    llm.eval(tokens)
    lg = np.array(llm.scores[: len(tokens)], dtype=np.float64)
    top = lg.argmax(-1)
    srt = np.sort(lg, -1)
    margin = srt[:, -1] - srt[:, -2]
    greedy, gmargin = [], []
    last = lg[-1]
    for _ in range(N_GREEDY):
        s = np.sort(last)
        t = int(last.argmax())
        greedy.append(t)
        gmargin.append(float(s[-1] - s[-2]))
        llm.eval([t])
        last = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
    return {
        "top1": [int(x) for x in top],
        "margin": [round(float(x), 5) for x in margin],
        "greedy": greedy,
        "greedy_margin": [round(x, 5) for x in gmargin],
    }


def quantize(src, dst, ftype):
    import llama_cpp

    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ftype
    rc = llama_cpp.llama_model_quantize(
        str(src).encode(), str(dst).encode(), ctypes.byref(p)
    )
    assert rc == 0, f"quantize {dst}: {rc}"


def tokens_for(seed):
    x, out = seed, []
    for _ in range(N_TOKENS):
        x = (x * 1103515245 + 12345) % (1 << 31)
        out.append((x >> 8) % 256)  # byte tokens; ids past 256 are specials
    return out


def build(name, seed):
    cfg, cls, mu = FAMILIES[name]()
    torch.manual_seed(seed)
    model = cls(cfg).float().eval()
    tied = cfg.tie_word_embeddings
    init_weights(model, seed, tied)
    if tied:
        model.tie_weights()
    tokens = tokens_for(seed)
    if getattr(cfg, "num_experts", None):
        decisive_router(model, tokens, seed)
    logits = torch_logits(model, tokens, mu)
    srt = np.sort(logits, -1)
    margins = srt[:, -1] - srt[:, -2]
    print(
        f"{name}: logit std {logits.std():.2f}, margin > 0.5 at "
        f"{(margins > 0.5).mean() * 100:.0f}% of positions"
    )
    out = OUT / name
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as td:
        ckpt = Path(td) / "ckpt"
        model.save_pretrained(ckpt, safe_serialization=True)
        if mu is not None:
            c = json.loads((ckpt / "config.json").read_text())
            c.update(mu, architectures=["MiniCPMForCausalLM"], model_type="minicpm")
            (ckpt / "config.json").write_text(json.dumps(c, indent=2))
            if "sparse_config" in mu:
                shutil.copy(ckpt / "config.json", out / "config.json")
        f16 = out / f"{name}.F16.gguf"
        convert(ckpt, f16)
    logits.astype("<f4").tofile(out / "torch.f32")
    ref = {
        "family": name,
        "config": {k: v for k, v in cfg.to_dict().items() if not k.startswith("_")}
        | (mu or {}),
        "tokens": tokens,
        "vocab": VOCAB,
        "command": "PYTHONPATH=/root/.cache/wren/bench-venv/lib/python3.11/site-packages "
        "/root/.cache/wren/gen-venv/bin/python scripts/gen_families.py " + name,
        "versions": versions(),
        "llama_cpp": {},
    }
    files = {"F16": f16}
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        print("  llama_cpp not importable: PyTorch side only")
        (out / "ref.json").write_text(json.dumps(ref, indent=1, default=str) + "\n")
        return
    for q, ft in QUANTS.items():
        files[q] = out / f"{name}.{q}.gguf"
        quantize(f16, files[q], ft)
    for q, path in files.items():
        ref["llama_cpp"][q] = llama_refs(path, tokens)
        agree = np.mean(np.array(ref["llama_cpp"][q]["top1"]) == logits.argmax(-1))
        print(f"  {q}: llama.cpp top-1 = PyTorch's at {agree * 100:.0f}% of positions")
    (out / "ref.json").write_text(json.dumps(ref, indent=1, default=str) + "\n")


def versions():
    v = {"torch": torch.__version__, "transformers": transformers.__version__}
    try:
        import llama_cpp

        v["llama_cpp_python"] = llama_cpp.__version__
    except ImportError:
        pass
    v["llama_cpp_dir"] = str(LLAMA_CPP)
    return v


def requant(name, types):
    """Quantizes family `name`'s F16 file to `types` and adds their llama.cpp references."""
    out = OUT / name
    ref = json.loads((out / "ref.json").read_text())
    for q in types:
        path = out / f"{name}.{q}.gguf"
        quantize(out / f"{name}.F16.gguf", path, {**QUANTS, **MORE_QUANTS}[q])
        ref["llama_cpp"][q] = llama_refs(path, ref["tokens"])
        print(f"{name} {q}: {path.stat().st_size} bytes")
    ref.setdefault("requant_commands", []).append(
        "~/.cache/wren/bench-venv/bin/python scripts/gen_families.py --requant "
        + ",".join(types) + " " + name
    )
    (out / "ref.json").write_text(json.dumps(ref, indent=1, default=str) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--requant"]:
        for n in sys.argv[3:]:
            requant(n, sys.argv[2].split(","))
        sys.exit(0)
    torch.set_num_threads(2)
    names = sys.argv[1:] or list(FAMILIES)
    for i, n in enumerate(FAMILIES):
        if n in names:
            build(n, 1000 + i)
