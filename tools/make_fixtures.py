#!/usr/bin/env python3
"""Builds the Hugging Face conformance fixtures used by the engine's Java tests.

Everything here is made from code and fixed seeds; nothing is downloaded. The script:

1. trains one small byte-level BPE tokenizer (``tokenizers`` library, vocab 512, specials ``<unk>`` ``<s>`` ``</s>``,
   a post-processor that prepends ``<s>``) on the text embedded below, shared by every fixture;
2. builds tiny decoder models from config with fixed seeds:

   * ``llama-gqa``  - LlamaForCausalLM, GQA (4 heads / 2 KV heads), untied embeddings, fp32, saved in >= 2 shards
     with ``model.safetensors.index.json``; config.json in the transformers 5 layout (``rope_parameters``);
   * ``llama-tied`` - LlamaForCausalLM, 4 heads / 4 KV heads, tied embeddings, fp32, one ``model.safetensors``,
     rope_theta 500000;
   * ``qwen2-bias`` - Qwen2ForCausalLM with q/k/v biases, GQA, weights stored as bf16, rope_theta 1e6; config.json is
     rewritten in the legacy layout that most Hub checkpoints still have (top-level ``rope_theta``, ``torch_dtype``).
     Goldens are computed in fp32 from the bf16-rounded weights, so an fp32 engine can match them to 1e-3;
   * ``qwen3-tied`` - Qwen3ForCausalLM: per-head q/k RMSNorm (random weights), no biases, head_dim 32 with hidden 64
     and 4 heads, GQA, tied embeddings, bf16 weights and fp32 goldens as qwen2-bias;

3. also writes ``tokenizer-llama-spm.json``, a Llama-2-style tokenizer (U+2581 word marks, byte fallback, a decoder
   that strips the leading space), used by the detokenizer tests only;
4. writes, per fixture, ``config.json``, the safetensors, ``tokenizer.json``, ``generation_config.json`` and
   ``golden.json`` into ``engine/src/test/resources/fixtures/<name>/``.

``golden.json`` holds, per prompt: the text, the prompt ids (HF tokenizer, with special tokens), the last-position
logits over the full vocabulary (fp32, eager attention) and 32 greedy token ids from a plain greedy loop that
ignores eos (so eos never cuts the sequence short). After writing, each fixture is reloaded from disk with
``AutoModelForCausalLM`` and the logits are checked against the goldens, so the files on disk are what the goldens
describe.

Regenerate with::

    python3 -m pip install torch transformers tokenizers safetensors
    python3 tools/make_fixtures.py              # all of them
    python3 tools/make_fixtures.py --only qwen3 # one (llama-gqa, llama-tied, qwen2-bias, qwen3)

The Java build never runs this script; it only reads the committed fixtures.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM,
                          Qwen3Config, Qwen3ForCausalLM)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "engine" / "src" / "test" / "resources" / "fixtures"
VOCAB_SIZE = 512
GREEDY_TOKENS = 32
SPECIALS = ["<unk>", "<s>", "</s>"]  # ids 0, 1, 2 as in Llama

# Training text for the fixture tokenizer: the Gettysburg Address (public domain), a few plain sentences written for
# this project, a little code and some non-Latin text so that multi-byte UTF-8 sequences get merges too.
TRAINING_TEXT = """
Four score and seven years ago our fathers brought forth on this continent, a new nation, conceived in Liberty, and
dedicated to the proposition that all men are created equal. Now we are engaged in a great civil war, testing whether
that nation, or any nation so conceived and so dedicated, can long endure. We are met on a great battle-field of that
war. We have come to dedicate a portion of that field, as a final resting place for those who here gave their lives
that that nation might live. It is altogether fitting and proper that we should do this. But, in a larger sense, we
can not dedicate -- we can not consecrate -- we can not hallow -- this ground. The brave men, living and dead, who
struggled here, have consecrated it, far above our poor power to add or detract. The world will little note, nor long
remember what we say here, but it can never forget what they did here. It is for us the living, rather, to be
dedicated here to the unfinished work which they who fought here have thus far so nobly advanced. It is rather for us
to be here dedicated to the great task remaining before us -- that from these honored dead we take increased devotion
to that cause for which they gave the last full measure of devotion -- that we here highly resolve that these dead
shall not have died in vain -- that this nation, under God, shall have a new birth of freedom -- and that government
of the people, by the people, for the people, shall not perish from the earth.

The quick brown fox jumps over the lazy dog. A server receives many requests at once and answers each of them in
turn, one token at a time. The scheduler packs the work of every running sequence into a single step, and the cache
keeps the keys and values of every past token in small blocks. When the blocks run out, the newest sequence waits.
Once upon a time there was a little model that could only count to ten, and it counted every morning and every night.
The weather today is cold and bright; tomorrow it will rain, and the river will rise over the old stone bridge.

def greet(name):
    return "Hello, " + name + "!"

for (int i = 0; i < n; i++) { sum += values[i] * weights[i]; }

你好，世界。今天天气很好。我们一起去公园散步吧。
こんにちは、世界。東京は大きな都市です。
Привет, мир! Как дела? Всё хорошо.
Grüße aus München: Käse, Öl und Straße. Café, naïve, résumé, señor.
Emoji: 🙂 🚀 🎉 ❤️ 👍 — and symbols: € £ ¥ © ® ™ ∑ ∞ ≤ ≥ ±.
"""

PROMPTS = [
    "Hello",
    "The quick brown fox jumps over the lazy dog.",
    "Four score and seven years ago our fathers brought forth on this continent a new nation, conceived in"
    " liberty. 你好，世界 🚀",
    "def greet(name):\n    return name",
]


def build_tokenizer() -> Tokenizer:
    """Trains the shared byte-level BPE tokenizer; deterministic for a fixed text and vocab size."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=1,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([TRAINING_TEXT] * 4, trainer=trainer)
    # Byte-level offsets, then "<s> $A" as Llama tokenizers do.
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]),
    ])
    assert tok.token_to_id("<s>") == 1 and tok.token_to_id("</s>") == 2, "special token ids"
    return tok


def build_spm_tokenizer() -> Tokenizer:
    """A Llama-2-style tokenizer, for the detokenizer tests: BPE over words marked with U+2581, byte fallback tokens
    ``<0x00>``..``<0xFF>`` (ids 3..258) for characters outside the vocabulary, and the Llama-2 decoder whose final
    ``Strip`` drops the leading space of whatever is decoded (so a token decodes differently alone and in context)."""
    trainer_tok = Tokenizer(models.BPE(unk_token="<unk>"))
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=True)
    trainer = trainers.BpeTrainer(vocab_size=400, min_frequency=2, special_tokens=SPECIALS, limit_alphabet=60,
                                  show_progress=False)
    trainer_tok.train_from_iterator([TRAINING_TEXT] * 4, trainer=trainer)
    spec = json.loads(trainer_tok.to_str())
    trained = sorted(spec["model"]["vocab"].items(), key=lambda kv: kv[1])
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for tok, _ in trained:
        if tok not in vocab:
            vocab[tok] = len(vocab)
    spec["model"]["vocab"] = vocab
    spec["model"]["byte_fallback"] = True
    spec["model"]["fuse_unk"] = True
    for added in spec["added_tokens"]:
        added["id"] = vocab[added["content"]]
    tok = Tokenizer.from_str(json.dumps(spec))
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", 1)])
    sample = "Hello world, 你好 🚀"
    assert tok.decode(tok.encode(sample).ids) == sample, "spm round trip"
    assert any(t.startswith("<0x") for t in tok.encode(sample).tokens), "byte fallback in use"
    return tok


def init_weights(model: torch.nn.Module, std: float, seed: int) -> None:
    """Normal(0, std) for every matrix and bias, ones for RMSNorm weights; fixed seed, parameter order."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                param.fill_(1.0)
            elif name.endswith(".bias"):
                param.copy_(torch.randn(param.shape, generator=gen) * 0.5 * std)
            else:
                param.copy_(torch.randn(param.shape, generator=gen) * std)


@torch.no_grad()
def goldens(model: torch.nn.Module, tok: Tokenizer) -> list[dict]:
    """Last-position logits and 32 greedy tokens (eos ignored) per prompt, fp32, full recompute each step."""
    model.eval()
    out = []
    for text in PROMPTS:
        ids = tok.encode(text, add_special_tokens=True).ids
        seq = torch.tensor([ids], dtype=torch.long)
        logits = model(input_ids=seq).logits[0, -1].float()
        last_logits = logits.tolist()
        greedy = []
        margin = float("inf")
        for _ in range(GREEDY_TOKENS):
            top2 = torch.topk(logits, 2).values
            margin = min(margin, float(top2[0] - top2[1]))
            nxt = int(torch.argmax(logits).item())
            greedy.append(nxt)
            seq = torch.cat([seq, torch.tensor([[nxt]], dtype=torch.long)], dim=1)
            logits = model(input_ids=seq).logits[0, -1].float()
        # The smallest top-1/top-2 gap on the greedy path: an engine within 1e-3 of these logits cannot pick another
        # token as long as this stays well above the tolerance.
        if margin < 1e-3:
            sys.exit(f"greedy path of {text!r} has a near tie ({margin}); pick another seed")
        out.append({"prompt": text, "prompt_ids": ids, "last_logits": last_logits, "greedy_ids": greedy,
                    "min_greedy_margin": margin})
    return out


def write_common(dir_: Path, tok: Tokenizer, cases: list[dict], note: str) -> None:
    tok.save(str(dir_ / "tokenizer.json"))
    gen_cfg = {"bos_token_id": 1, "eos_token_id": 2, "do_sample": False}
    (dir_ / "generation_config.json").write_text(json.dumps(gen_cfg, indent=2) + "\n")
    golden = {
        "note": note,
        "torch": torch.__version__,
        "greedy_tokens": GREEDY_TOKENS,
        "vocab_size": tok.get_vocab_size(),
        "cases": cases,
    }
    (dir_ / "golden.json").write_text(json.dumps(golden, separators=(",", ":")) + "\n")


def fresh_dir(name: str) -> Path:
    dir_ = OUT / name
    if dir_.exists():
        shutil.rmtree(dir_)
    dir_.mkdir(parents=True)
    return dir_


def strip_runtime_keys(dir_: Path, legacy_rope: bool, dtype: str) -> None:
    """Drops the transformers version stamp (keeps reruns byte-identical across versions) and, for the legacy layout,
    moves rope_theta to the top level and names the dtype as ``torch_dtype``."""
    path = dir_ / "config.json"
    cfg = json.loads(path.read_text())
    cfg.pop("transformers_version", None)
    if legacy_rope:
        rope = cfg.pop("rope_parameters")
        cfg["rope_theta"] = rope["rope_theta"]
        cfg.pop("dtype", None)
        cfg["torch_dtype"] = dtype
    else:
        cfg["dtype"] = dtype
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    gen = dir_ / "generation_config.json"
    if gen.exists():
        g = json.loads(gen.read_text())
        g.pop("transformers_version", None)
        gen.write_text(json.dumps(g, indent=2, sort_keys=True) + "\n")


@torch.no_grad()
def verify_reload(dir_: Path, cases: list[dict]) -> float:
    """Reloads the saved checkpoint with transformers (fp32) and returns the max abs logit error vs the goldens."""
    model = AutoModelForCausalLM.from_pretrained(dir_, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    worst = 0.0
    for case in cases:
        logits = model(input_ids=torch.tensor([case["prompt_ids"]])).logits[0, -1].float()
        worst = max(worst, float((logits - torch.tensor(case["last_logits"])).abs().max()))
    return worst


def make_llama_gqa(tok: Tokenizer) -> None:
    cfg = LlamaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=172, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, rms_norm_eps=1e-6,
        rope_theta=10000.0, tie_word_embeddings=False, initializer_range=0.15, bos_token_id=1, eos_token_id=2,
        attn_implementation="eager",
    )
    torch.manual_seed(1001)
    model = LlamaForCausalLM(cfg).float()
    init_weights(model, cfg.initializer_range, seed=1001)
    cases = goldens(model, tok)
    dir_ = fresh_dir("llama-gqa")
    model.save_pretrained(dir_, max_shard_size="300KB")
    strip_runtime_keys(dir_, legacy_rope=False, dtype="float32")
    write_common(dir_, tok, cases, "LlamaForCausalLM, GQA 4q/2kv, untied, fp32, sharded; eager fp32 goldens")
    assert (dir_ / "model.safetensors.index.json").exists(), "llama-gqa must be sharded"
    report(dir_, cases)


def make_llama_tied(tok: Tokenizer) -> None:
    cfg = LlamaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=172, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512, rms_norm_eps=1e-5,
        rope_theta=500000.0, tie_word_embeddings=True, initializer_range=0.15, bos_token_id=1, eos_token_id=2,
        attn_implementation="eager",
    )
    torch.manual_seed(2002)
    model = LlamaForCausalLM(cfg).float()
    init_weights(model, cfg.initializer_range, seed=2002)
    model.tie_weights()
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "tied"
    cases = goldens(model, tok)
    dir_ = fresh_dir("llama-tied")
    model.save_pretrained(dir_, max_shard_size="100MB")
    strip_runtime_keys(dir_, legacy_rope=False, dtype="float32")
    write_common(dir_, tok, cases, "LlamaForCausalLM, MHA 4q/4kv, tied embeddings, fp32, single file")
    assert (dir_ / "model.safetensors").exists(), "llama-tied must be one file"
    report(dir_, cases)


def make_qwen2_bias(tok: Tokenizer) -> None:
    cfg = Qwen2Config(
        vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=172, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024, rms_norm_eps=1e-6,
        rope_theta=1000000.0, tie_word_embeddings=False, initializer_range=0.15, bos_token_id=1, eos_token_id=2,
        use_sliding_window=False, attn_implementation="eager",
    )
    torch.manual_seed(3003)
    model = Qwen2ForCausalLM(cfg).float()
    init_weights(model, cfg.initializer_range, seed=3003)
    assert model.model.layers[0].self_attn.q_proj.bias is not None, "Qwen2 q/k/v biases"
    with torch.no_grad():  # round every weight to bf16 so the fp32 goldens describe exactly the stored weights
        for param in model.parameters():
            param.copy_(param.to(torch.bfloat16).float())
    cases = goldens(model, tok)
    dir_ = fresh_dir("qwen2-bias")
    model.to(torch.bfloat16).save_pretrained(dir_, max_shard_size="100MB")
    strip_runtime_keys(dir_, legacy_rope=True, dtype="bfloat16")
    write_common(dir_, tok, cases, "Qwen2ForCausalLM, q/k/v biases, GQA 4q/2kv, bf16 weights, fp32 goldens")
    report(dir_, cases)


def make_qwen3(tok: Tokenizer) -> None:
    cfg = Qwen3Config(
        vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=32, max_position_embeddings=1024, rms_norm_eps=1e-6,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, tie_word_embeddings=True,
        initializer_range=0.15, bos_token_id=1, eos_token_id=2, use_sliding_window=False,
        attn_implementation="eager",
    )
    torch.manual_seed(4004)
    model = Qwen3ForCausalLM(cfg).float()
    init_weights(model, cfg.initializer_range, seed=4004)
    with torch.no_grad():  # per-head q/k norms other than ones, so they are exercised; then bf16-exact weights
        g = torch.Generator().manual_seed(4005)
        for layer in model.model.layers:
            for norm in (layer.self_attn.q_norm, layer.self_attn.k_norm):
                norm.weight.copy_(1.0 + 0.2 * torch.randn(norm.weight.shape, generator=g))
        for param in model.parameters():
            param.copy_(param.to(torch.bfloat16).float())
    assert model.model.layers[0].self_attn.q_proj.bias is None, "Qwen3: no q/k/v biases"
    cases = goldens(model, tok)
    dir_ = fresh_dir("qwen3-tied")
    model.to(torch.bfloat16).save_pretrained(dir_, max_shard_size="100MB")
    strip_runtime_keys(dir_, legacy_rope=False, dtype="bfloat16")
    write_common(dir_, tok, cases, "Qwen3ForCausalLM, per-head q/k RMSNorm, head_dim 32 (hidden 64, 4 heads), GQA "
                 "4q/2kv, tied embeddings, bf16 weights, fp32 goldens")
    report(dir_, cases)


def report(dir_: Path, cases: list[dict]) -> None:
    err = verify_reload(dir_, cases)
    size = sum(f.stat().st_size for f in dir_.iterdir())
    distinct = sorted({t for c in cases for t in c["greedy_ids"]})
    print(f"{dir_.name}: {size / 1024:.0f} KiB, reload max|dlogit|={err:.2e}, "
          f"{len(distinct)} distinct greedy tokens, files={sorted(f.name for f in dir_.iterdir())}")
    if err > 1e-4:
        sys.exit(f"{dir_.name}: reloaded checkpoint disagrees with goldens ({err})")


def main() -> None:
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    tok = build_tokenizer()
    print(f"tokenizer: vocab {tok.get_vocab_size()}")
    if len(sys.argv) > 2 and sys.argv[1] == "--only":  # e.g. --only qwen3: one fixture, the others untouched
        {"llama-gqa": make_llama_gqa, "llama-tied": make_llama_tied, "qwen2-bias": make_qwen2_bias,
         "qwen3": make_qwen3}[sys.argv[2]](tok)
        return
    make_llama_gqa(tok)
    make_llama_tied(tok)
    make_qwen2_bias(tok)
    make_qwen3(tok)
    spm = build_spm_tokenizer()
    spm.save(str(OUT / "tokenizer-llama-spm.json"))
    print(f"tokenizer-llama-spm.json: vocab {spm.get_vocab_size()}")
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"total fixtures: {total / 1024:.0f} KiB")
    if total > 5 * 1024 * 1024:
        sys.exit("fixtures exceed 5 MB")


if __name__ == "__main__":
    main()
