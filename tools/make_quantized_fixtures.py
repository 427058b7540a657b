#!/usr/bin/env python3
"""Builds the pre-quantized (GPTQ and AWQ 4-bit) conformance fixtures used by the engine's Java tests.

The checkpoints are quantized by the reference library itself, GPT-QModel (``gptqmodel``, the library transformers 5
loads GPTQ and AWQ checkpoints with), on CPU, from the tiny models ``tools/make_fixtures.py`` committed, with a few
kilobytes of calibration text embedded in that script. Nothing is downloaded. Fixtures:

* ``gptq-desc-act`` - ``llama-gqa`` quantized with GPTQ, 4 bits, group 32, asymmetric, ``desc_act=True`` (act-order:
  a non-trivial ``g_idx``), saved in the v1 checkpoint format (``checkpoint_format: gptq``, zero points stored
  minus one). Its MLP keeps the odd intermediate size 172: ``qweight`` has ``ceil(172 / 8) = 22`` rows and the last
  group of ``down_proj`` holds 12 inputs;
* ``gptq-sym`` - ``qwen2-bias`` (q/k/v biases) quantized with GPTQ, 4 bits, group 64, symmetric, ``desc_act=False``;
* ``awq-gemm`` - ``llama-tied`` quantized with AWQ (GEMM layout: codes packed along the output dimension in the
  order ``[0, 2, 4, 6, 1, 3, 5, 7]``), 4 bits, group 64, asymmetric (zero points). gptqmodel's AWQ kernels need
  ``out_features % 8 == 0`` and ``in_features % group_size == 0``, which 172 is not, so the source model's MLP is
  first widened to 192 with zero rows of gate/up and zero columns of down: ``silu(0) * 0 = 0``, the same function.

Goldens (``golden.json``, same layout as ``make_fixtures.py``'s) are the fp32 logits of the checkpoint's exact
dequantized weights: the saved checkpoint is reloaded with ``GPTQModel.load(..., backend=TORCH / AWQ_TORCH)`` and
every quantized layer's weight is taken from the library's own pure-torch dequantization
(``TorchLinear.dequantize_weight`` for GPTQ, ``gptqmodel.quantization.awq.utils.packing_utils.dequantize_gemm`` for
AWQ) with its fp16 scales cast to fp32 first, so ``(q - z) * s`` is exact (a 4-bit difference times an 11-bit
significand fits a float). Those weights are put into the fp32 transformers model (eager attention) that computes the
last-position logits and 32 greedy tokens per prompt. The library's own fp16 forward is also run and its distance
to the fp32 goldens printed, as a check that the dequantized weights are the ones the library computes with.

Regenerate (GPT-QModel builds from source; ~2 min)::

    python3 -m venv --system-site-packages /tmp/gptqenv && /tmp/gptqenv/bin/pip install gptqmodel==7.7.0
    GPTQMODEL_CPU_WORKERS=2 /tmp/gptqenv/bin/python tools/make_quantized_fixtures.py

The Java build never runs this script; it only reads the committed fixtures. A rerun may round differently (GPTQ's
Hessian solves are not promised to be bit-reproducible across torch builds); the goldens always describe the files
written next to them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("GPTQMODEL_CPU_WORKERS", "2")

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tokenizers import Tokenizer
from transformers import AutoConfig, AutoModelForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures  # noqa: E402  (the prompts, the calibration text and the golden loop)

from gptqmodel import BACKEND, GPTQModel, QuantizeConfig  # noqa: E402
from gptqmodel.nn_modules.qlinear import BaseQuantLinear  # noqa: E402
from gptqmodel.quantization.awq.utils.packing_utils import dequantize_gemm  # noqa: E402

FIXTURES = make_fixtures.OUT
ALL = ("gptq-desc-act", "gptq-sym", "awq-gemm")
PROJECTIONS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
               "mlp.up_proj", "mlp.down_proj"]


def calibration(tok: Tokenizer) -> list[dict]:
    ids = tok.encode(make_fixtures.TRAINING_TEXT).ids
    return [{"input_ids": torch.tensor([ids[i:i + 64]]), "attention_mask": torch.ones(1, 64, dtype=torch.long)}
            for i in range(0, len(ids) - 64, 32)][:24]


def widen_mlp(src: Path, dst: Path, inter: int) -> None:
    """Copies a fixture with its MLP widened by zero rows (gate, up) and columns (down): the same function."""
    dst.mkdir(parents=True)
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    old = model.config.intermediate_size
    with torch.no_grad():
        for layer in model.model.layers:
            mlp = layer.mlp
            for name in ("gate_proj", "up_proj"):
                lin = getattr(mlp, name)
                w = torch.zeros(inter, lin.in_features)
                w[:old] = lin.weight
                new = torch.nn.Linear(lin.in_features, inter, bias=False)
                new.weight.copy_(w)
                setattr(mlp, name, new)
            w = torch.zeros(mlp.down_proj.out_features, inter)
            w[:, :old] = mlp.down_proj.weight
            new = torch.nn.Linear(inter, mlp.down_proj.out_features, bias=False)
            new.weight.copy_(w)
            mlp.down_proj = new
    model.config.intermediate_size = inter
    model.save_pretrained(dst)
    for f in ("tokenizer.json", "generation_config.json"):
        shutil.copy(src / f, dst / f)


def quantize(src: Path, out: Path, qc: QuantizeConfig, tok: Tokenizer) -> None:
    model = GPTQModel.load(str(src), qc, device="cpu")
    model.quantize(calibration(tok), backend=BACKEND.TORCH if qc.quant_method == "gptq" else BACKEND.AWQ_TORCH)
    model.save(str(out))


def exact_dequantized(module: BaseQuantLinear, scales: torch.Tensor, awq: bool) -> torch.Tensor:
    """The layer's weight [out, in] in fp32 from the library's own dequantization, with the checkpoint's scales as
    stored in the file, widened to fp32 (exact). The loaded module's own scales are not used: the loader casts them
    to its compute dtype (bf16 on CPU), which rounds fp16 scales."""
    if awq:
        w = dequantize_gemm(module.qweight, module.qzeros, scales.float(), module.bits, module.group_size)
        return w[: module.in_features].T.contiguous()
    saved = module.scales
    module.scales = scales.float()
    try:
        w = module.dequantize_weight()
    finally:
        module.scales = saved
    return w.T.contiguous().float()


@torch.no_grad()
def goldens_from(out: Path, tok: Tokenizer, awq: bool) -> tuple[list[dict], float]:
    """fp32 goldens over the exactly dequantized weights, and the library fp16 forward's worst logit distance."""
    backend = BACKEND.AWQ_TORCH if awq else BACKEND.TORCH
    qmodel = GPTQModel.load(str(out), device="cpu", backend=backend)
    hf = qmodel.model
    config = AutoConfig.from_pretrained(out)
    del config.quantization_config
    ref = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="eager")
    state = {}
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        stored_scales = {k[: -len(".scales")]: f.get_tensor(k) for k in f.keys() if k.endswith(".scales")}
    for name, module in hf.named_modules():
        if isinstance(module, BaseQuantLinear):
            state[name + ".weight"] = exact_dequantized(module, stored_scales[name], awq)
            if module.bias is not None:
                state[name + ".bias"] = module.bias.float()
        elif isinstance(module, torch.nn.Module):
            for pname, p in module.named_parameters(recurse=False):
                state[f"{name}.{pname}"] = p.float()
    missing, unexpected = ref.load_state_dict(state, strict=False)
    missing = [m for m in missing if not (config.tie_word_embeddings and m == "lm_head.weight")]
    if missing or unexpected:
        sys.exit(f"{out.name}: state mismatch, missing {missing}, unexpected {unexpected}")
    if config.tie_word_embeddings:
        ref.tie_weights()
    ref.eval()
    cases = make_fixtures.goldens(ref, tok)
    library = 0.0
    for case in cases:
        logits = hf(input_ids=torch.tensor([case["prompt_ids"]])).logits[0, -1].float()
        library = max(library, float((logits - torch.tensor(case["last_logits"])).abs().max()))
    return cases, library


def finish(out: Path, tok: Tokenizer, cases: list[dict], library: float, note: str) -> None:
    for f in ("quant_log.csv", "tokenizer_config.json", "quantize_config.json"):
        (out / f).unlink(missing_ok=True)
    cfg_path = out / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("transformers_version", None)
    meta = cfg["quantization_config"].get("meta", {})
    meta.pop("offload_to_disk_path", None)  # a temporary directory: keeps reruns stable
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    make_fixtures.write_common(out, tok, cases, note)
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"{out.name}: {size / 1024:.0f} KiB, library fp16 forward vs fp32 goldens max|dlogit|={library:.3g}, "
          f"files={sorted(f.name for f in out.iterdir())}")


def make(name: str, src: Path, qc: QuantizeConfig, tok: Tokenizer, awq: bool, note: str) -> None:
    out = FIXTURES / name
    if out.exists():
        shutil.rmtree(out)
    quantize(src, out, qc, tok)
    cases, library = goldens_from(out, tok, awq)
    finish(out, tok, cases, library, note)


def check_layout(name: str) -> None:
    """Every projection is stored quantized, with the tensors the Java loader reads."""
    path = FIXTURES / name / "model.safetensors"
    with safe_open(str(path), "pt") as f:
        keys = set(f.keys())
    for p in PROJECTIONS:
        for suffix in ("qweight", "qzeros", "scales"):
            key = f"model.layers.0.{p}.{suffix}"
            if key not in keys:
                sys.exit(f"{name}: {key} missing")


def main(only: set[str]) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    tok = make_fixtures.build_tokenizer()
    if "gptq-desc-act" in only:
        make("gptq-desc-act", FIXTURES / "llama-gqa",
             QuantizeConfig(bits=4, group_size=32, desc_act=True, sym=False, act_group_aware=False), tok, False,
             "llama-gqa, GPTQ 4-bit g32 asym desc_act (gptqmodel 7.7.0, v1 format); fp32 goldens of exact dequant")
    with tempfile.TemporaryDirectory() as tmp:
        if "gptq-sym" in only:
            qwen = Path(tmp) / "qwen2-bias"
            shutil.copytree(FIXTURES / "qwen2-bias", qwen)
            cfg = json.loads((qwen / "config.json").read_text())
            cfg["pad_token_id"] = 0  # gptqmodel's loader otherwise picks a padding index outside this vocabulary
            (qwen / "config.json").write_text(json.dumps(cfg))
            make("gptq-sym", qwen, QuantizeConfig(bits=4, group_size=64, desc_act=False, sym=True), tok, False,
                 "qwen2-bias, GPTQ 4-bit g64 sym (gptqmodel 7.7.0, v1 format); fp32 goldens of exact dequant")
        if "awq-gemm" in only:
            wide = Path(tmp) / "llama-tied-192"
            widen_mlp(FIXTURES / "llama-tied", wide, 192)
            make("awq-gemm", wide, QuantizeConfig(bits=4, group_size=64, sym=False, quant_method="awq", format="gemm"), tok,
                 True, "llama-tied (MLP zero-widened to 192), AWQ GEMM 4-bit g64 asym (gptqmodel 7.7.0); fp32 goldens "
                       "of exact dequant")
    for name in sorted(only):
        check_layout(name)


if __name__ == "__main__":
    main(set(sys.argv[1:]) or set(ALL))
