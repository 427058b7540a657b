#!/usr/bin/env python3
"""Qwen2.5-VL conformance fixtures for Tessera's Java engine (engine/src/test/resources/fixtures/qwen2_5-vl*/).

The sibling of make_vlm_fixtures.py (whose tokenizer, chat template, processor and randomisation it reuses): a tiny
random-weight Qwen2_5_VLForConditionalGeneration built from config with fixed seeds (nothing is downloaded). Its
vision tower has what Qwen2-VL's lacks: RMSNorm blocks with a gated SiLU MLP (gate/up/down with biases), an RMSNorm
merger (ln_q), and windowed attention: window_size 56 px here (2x2 merged patches per window, so that the small
images below have several windows, some cut by the image edge and some empty) with block 1 of 3 in
fullatt_block_indexes (attention over the whole image). It records what transformers 5.24 does with it:

  qwen2_5-vl-images/  three images of different sizes and aspect ratios (PNG RGB, JPEG, PNG RGBA) whose grids
                      (6x10, 10x4, 8x8 patches) are and are not multiples of the window
  qwen2_5-vl/         the checkpoint, golden.json and raw float32 little-endian .bin tensors:
    pixels-<i>.bin       pixel_values of image i alone ([patches, 1176]), with its grid in golden.json
    vision-<i>.bin       the vision tower's merged embeddings of image i, given HF's pixel_values
    logits-<case>.bin    last-position logits of each prompt case
  golden.json: per image its grid; pillow_bicubic_40x90: SHA-256 of Pillow's bicubic resize of a test pattern to
               sizes on both sides of its pass-order rule; per case the prompt's input_ids, position_ids (get_rope_index), rope delta,
               greedy ids (32 tokens, end-of-sequence ignored) and the smallest top-1/top-2 logit gap along the
               greedy path; window_plans: transformers' get_vision_window_index (window_index, cu_window_seqlens)
               for lists of grids at the published window (112 px) and at the fixture's (56 px).

Resize path: the PIL backend (Qwen2VLImageProcessorPil), as for Qwen2-VL: Qwen2.5-VL uses the same processor.

Regenerate:  python3 -m pip install torch transformers==5.24.0 tokenizers safetensors pillow && \
             python3 tools/make_vlm25_fixtures.py
"""
import hashlib
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
from transformers.vision_utils import get_vision_window_index

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_vlm_fixtures as base  # noqa: E402

# Resized to 140x84, 56x140 and 112x112 (grids 6x10, 10x4, 8x8). Pillow runs the tall image's resize vertical pass
# first (its height shrinks by more than twice as many pixels as its width), the others horizontal first.
IMAGES = [("wide.png", 150, 90, "RGB"), ("tall.jpg", 60, 150, "RGB"), ("square.png", 120, 120, "RGBA")]
# Pillow's bicubic resize of a 40x90 pattern (pattern() below) to sizes on both sides of its pass-order rule.
RESIZES = [(38, 70), (20, 80), (30, 61), (30, 70), (50, 60), (50, 100), (12, 30)]
WINDOW = 56
# Lists of grids (as one packed call sees them) for the window planner's conformance.
PLANS = [
    (112, [[1, 6, 10], [1, 10, 4], [1, 8, 8]]),
    (112, [[1, 36, 52], [1, 16, 16], [1, 18, 8], [2, 12, 20]]),
    (56, [[1, 6, 10], [1, 10, 4], [1, 8, 8]]),
    (56, [[1, 2, 2], [1, 4, 4], [1, 14, 6]]),
]


def config(tok):
    ids = {t: tok.convert_tokens_to_ids(t) for t in base.SPECIALS}
    return Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         rms_norm_eps=1e-6,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                          "mrope_section": [2, 3, 3]},
                         bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"]),
        vision_config=dict(depth=3, hidden_size=32, intermediate_size=48, num_heads=2, out_hidden_size=64,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=WINDOW,
                           fullatt_block_indexes=[1], hidden_act="silu", tokens_per_second=2),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False)


def pattern(w, h):
    """An RGB test pattern with detail at every scale: (x*x*7 + y*31 + x*y*3 + c*50) % 256."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * x * 7 + y * 31 + x * y * 3 + c * 50) % 256 for c in range(3)], -1).astype(np.uint8)


def resizes():
    src = Image.fromarray(pattern(40, 90), "RGB")
    return [{"width": w, "height": h, "sha256": hashlib.sha256(src.resize((w, h), Image.BICUBIC).tobytes()).hexdigest()}
            for w, h in RESIZES]


def window_plans():
    plans = []
    for window, grids in PLANS:
        index, cu = get_vision_window_index(torch.tensor(grids), spatial_merge_size=2, window_size=window,
                                            patch_size=14)
        plans.append({"window_size": window, "grids_thw": grids, "window_index": index.tolist(),
                      "cu_window_seqlens": cu.tolist()})
    return plans


def main():
    torch.manual_seed(0)
    img_dir = os.path.join(base.ROOT, "qwen2_5-vl-images")
    out = os.path.join(base.ROOT, "qwen2_5-vl")
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    tok = base.tokenizer()
    pics = base.images(img_dir, IMAGES)
    ip = Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=base.MAX_PIXELS)
    proc = base.Processor(ip, tok)
    cfg = config(tok)
    cases = [
        ("two-images", [{"role": "user", "content": [
            {"type": "image"}, {"type": "text", "text": "Compare this picture"},
            {"type": "image"}, {"type": "text", "text": "with that one."}]}], [0, 1]),
        ("one-image", [{"role": "user", "content": [
            {"type": "text", "text": "What is in this image?"}, {"type": "image"}]}], [2]),
        ("text-only", [{"role": "user", "content": "Describe a red car next to a blue house."}], []),
    ]
    for seed in range(300, 400):
        model = Qwen2_5_VLForConditionalGeneration(cfg).eval()
        base.randomize(model, seed)
        golden = {"seed": seed, "greedy_tokens": base.GREEDY, "max_pixels": base.MAX_PIXELS,
                  "min_pixels": 56 * 56, "resize_path": "PIL bicubic (Qwen2VLImageProcessorPil)", "images": [],
                  "cases": [], "window_plans": window_plans(), "pillow_bicubic_40x90": resizes()}
        ok = True
        with torch.no_grad():
            for i, pic in enumerate(pics):
                px = ip(images=[pic], return_tensors="pt")
                grid = px["image_grid_thw"][0].tolist()
                base.save_bin(os.path.join(out, f"pixels-{i}.bin"), px["pixel_values"].numpy())
                emb = model.model.visual(px["pixel_values"], grid_thw=px["image_grid_thw"]).pooler_output
                base.save_bin(os.path.join(out, f"vision-{i}.bin"), emb.numpy())
                golden["images"].append({"file": IMAGES[i][0], "width": pic.width, "height": pic.height,
                                         "grid_thw": grid, "patches": int(px["pixel_values"].shape[0])})
            for name, messages, which in cases:
                text = proc.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
                inputs = proc(text=[text], images=[pics[i] for i in which] or None, return_tensors="pt")
                logits = model(**inputs).logits[0, -1]
                base.save_bin(os.path.join(out, f"logits-{name}.bin"), logits.numpy())
                pos, delta = model.model.get_rope_index(inputs["input_ids"], inputs["mm_token_type_ids"],
                                                        inputs.get("image_grid_thw"))
                ids, margin = base.greedy(model, inputs, base.GREEDY)
                if margin < 1e-3:
                    ok = False
                    break
                golden["cases"].append({"name": name, "text": text, "images": which,
                                        "input_ids": inputs["input_ids"][0].tolist(),
                                        "position_ids": pos[:, 0].tolist(), "rope_delta": int(delta[0, 0]),
                                        "greedy_ids": ids, "min_greedy_margin": margin})
        if ok:
            break
        print(f"seed {seed}: greedy margin too small, trying the next", file=sys.stderr)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    ip.save_pretrained(out)
    with open(os.path.join(out, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
    # Reload and check the saved checkpoint reproduces the goldens.
    again = Qwen2_5_VLForConditionalGeneration.from_pretrained(out).eval()
    c = golden["cases"][0]
    inputs = proc(text=[c["text"]], images=[pics[i] for i in c["images"]], return_tensors="pt")
    with torch.no_grad():
        got = again(**inputs).logits[0, -1].numpy()
    want = np.fromfile(os.path.join(out, "logits-two-images.bin"), dtype="<f4")
    assert np.abs(got - want).max() < 1e-5, "reloaded model differs"
    print("wrote", out, "seed", golden["seed"], "grids", [im["grid_thw"] for im in golden["images"]],
          "cases", [(c["name"], len(c["input_ids"])) for c in golden["cases"]])


if __name__ == "__main__":
    main()
