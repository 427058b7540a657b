#!/usr/bin/env python3
"""Qwen2-VL conformance fixtures for Tessera's Java engine (engine/src/test/resources/fixtures/qwen2-vl*/).

Builds a tiny random-weight Qwen2VLForConditionalGeneration from config with fixed seeds (nothing is downloaded),
with a small byte-level BPE tokenizer that has Qwen2's pre-tokenizer regex and the vision special tokens, a chat
template that emits <|vision_start|><|image_pad|><|vision_end|> per image, and a preprocessor_config.json. Then it
records what transformers 5.24 does with it:

  qwen2-vl-images/   three images of different sizes and aspect ratios (PNG RGB, JPEG, PNG RGBA)
  qwen2-vl/          the checkpoint, golden.json and raw float32 little-endian .bin tensors:
    pixels-<i>.bin       pixel_values of image i alone ([patches, 1176]), with its grid in golden.json
    vision-<i>.bin       the vision tower's merged embeddings of image i, given HF's pixel_values
    logits-<case>.bin    last-position logits of each prompt case
  golden.json: per case the prompt's input_ids, position_ids (get_rope_index), rope delta, greedy ids (32 tokens,
               end-of-sequence ignored) and the smallest top-1/top-2 logit gap along the greedy path.

Resize path: the PIL backend (Qwen2VLImageProcessorPil: PIL bicubic on uint8, rescale in float64 then float32,
normalize in float32), which Tessera reproduces exactly; transformers' default torchvision backend resizes with
antialiased bicubic on tensors and differs from it by a few levels.

Regenerate:  python3 -m pip install torch transformers==5.24.0 tokenizers safetensors pillow && \
             python3 tools/make_vlm_fixtures.py
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast, Qwen2VLConfig, Qwen2VLForConditionalGeneration
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "engine", "src", "test", "resources",
                    "fixtures")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
            "<|image_pad|>", "<|video_pad|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
CORPUS = """The quick brown fox jumps over the lazy dog. Pictures of cats, dogs and birds; a red car next to a
blue house. What is in this image? Describe the picture in detail. Compare the first image with the second one.
You are a helpful assistant. The weather is sunny, and 42 people walk in the park at 10:30 in the morning.
"""
GREEDY = 32
MAX_PIXELS = 28 * 28 * 16
IMAGES = [("landscape.png", 100, 75, "RGB"), ("portrait.jpg", 50, 130, "RGB"), ("square.png", 150, 150, "RGBA")]


def tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=400, min_frequency=1, special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([CORPUS] * 4, trainer)
    tok.add_special_tokens(SPECIALS)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   chat_template=CHAT_TEMPLATE)


def images(out, specs=IMAGES):
    rng = np.random.default_rng(7)
    made = []
    for name, w, h, mode in specs:
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx * 255 // max(1, w - 1), yy * 255 // max(1, h - 1), (xx + yy) * 255 // (w + h)], -1)
        noise = rng.integers(-40, 40, size=(h, w, 3))
        rgb = np.clip(base + noise, 0, 255).astype(np.uint8)
        if mode == "RGBA":
            alpha = rng.integers(0, 256, size=(h, w, 1)).astype(np.uint8)
            img = Image.fromarray(np.concatenate([rgb, alpha], -1), "RGBA")
        else:
            img = Image.fromarray(rgb, "RGB")
        path = os.path.join(out, name)
        if name.endswith(".jpg"):
            img.save(path, quality=90)
        else:
            img.save(path)
        made.append(Image.open(path).convert("RGB"))
    return made


def config(tok):
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIALS}
    vocab = len(tok)
    return Qwen2VLConfig(
        text_config=dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         rms_norm_eps=1e-6,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                          "mrope_section": [2, 3, 3]},
                         bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"]),
        vision_config=dict(depth=2, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=2, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2, hidden_act="quick_gelu"),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False)


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                std = 1.0 if "embed_tokens" in name else 1.0 / fan_in ** 0.5
                p.copy_(torch.randn(p.shape, generator=g) * std)
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            else:
                p.copy_(1.0 + torch.randn(p.shape, generator=g) * 0.1)


class Processor:
    """What Qwen2VLProcessor does (its constructor wants a video processor, which needs torchvision): render the
    chat template, expand each <|image_pad|> into grid_t*grid_h*grid_w/merge^2 copies, tokenize, and mark the
    image tokens in mm_token_type_ids."""

    def __init__(self, ip, tok):
        self.ip = ip
        self.tok = tok

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
        return self.tok.apply_chat_template(messages, tokenize=tokenize, add_generation_prompt=add_generation_prompt)

    def __call__(self, text, images=None, return_tensors="pt"):
        text = text[0]
        out = {}
        if images:
            px = self.ip(images=images, return_tensors="pt")
            out["pixel_values"] = px["pixel_values"]
            out["image_grid_thw"] = px["image_grid_thw"]
            parts = text.split("<|image_pad|>")
            assert len(parts) == len(images) + 1
            text = parts[0]
            for grid, rest in zip(px["image_grid_thw"].tolist(), parts[1:]):
                text += "<|image_pad|>" * (grid[0] * grid[1] * grid[2] // 4) + rest
        ids = self.tok(text, add_special_tokens=False)["input_ids"]
        image_id = self.tok.convert_tokens_to_ids("<|image_pad|>")
        out["input_ids"] = torch.tensor([ids])
        out["attention_mask"] = torch.ones_like(out["input_ids"])
        out["mm_token_type_ids"] = (out["input_ids"] == image_id).int()
        return out


def save_bin(path, t):
    np.asarray(t, dtype="<f4").tofile(path)


def greedy(model, inputs, steps):
    model.generation_config.eos_token_id = None
    out = model.generate(**inputs, max_new_tokens=steps, do_sample=False, output_scores=True,
                         return_dict_in_generate=True, pad_token_id=0)
    ids = out.sequences[0, inputs["input_ids"].shape[1]:].tolist()
    margin = min(float(torch.topk(s[0], 2).values[0] - torch.topk(s[0], 2).values[1]) for s in out.scores)
    return ids, margin


def main():
    torch.manual_seed(0)
    img_dir = os.path.join(ROOT, "qwen2-vl-images")
    out = os.path.join(ROOT, "qwen2-vl")
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    tok = tokenizer()
    pics = images(img_dir)
    ip = Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=MAX_PIXELS)
    proc = Processor(ip, tok)
    cfg = config(tok)
    cases = [
        ("two-images", [{"role": "user", "content": [
            {"type": "image"}, {"type": "text", "text": "Compare this picture"},
            {"type": "image"}, {"type": "text", "text": "with that one."}]}], [0, 1]),
        ("one-image", [{"role": "user", "content": [
            {"type": "text", "text": "What is in this image?"}, {"type": "image"}]}], [2]),
        ("text-only", [{"role": "user", "content": "Describe a red car next to a blue house."}], []),
    ]
    for seed in range(100, 200):
        model = Qwen2VLForConditionalGeneration(cfg).eval()
        randomize(model, seed)
        golden = {"seed": seed, "greedy_tokens": GREEDY, "max_pixels": MAX_PIXELS, "min_pixels": 56 * 56,
                  "resize_path": "PIL bicubic (Qwen2VLImageProcessorPil)", "images": [], "cases": []}
        ok = True
        with torch.no_grad():
            for i, pic in enumerate(pics):
                px = ip(images=[pic], return_tensors="pt")
                grid = px["image_grid_thw"][0].tolist()
                save_bin(os.path.join(out, f"pixels-{i}.bin"), px["pixel_values"].numpy())
                emb = model.model.visual(px["pixel_values"], grid_thw=px["image_grid_thw"]).pooler_output
                save_bin(os.path.join(out, f"vision-{i}.bin"), emb.numpy())
                golden["images"].append({"file": IMAGES[i][0], "width": pic.width, "height": pic.height,
                                         "grid_thw": grid, "patches": int(px["pixel_values"].shape[0])})
            for name, messages, which in cases:
                text = proc.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
                inputs = proc(text=[text], images=[pics[i] for i in which] or None, return_tensors="pt")
                logits = model(**inputs).logits[0, -1]
                save_bin(os.path.join(out, f"logits-{name}.bin"), logits.numpy())
                pos, delta = model.model.get_rope_index(inputs["input_ids"], inputs["mm_token_type_ids"],
                                                        inputs.get("image_grid_thw"))
                ids, margin = greedy(model, inputs, GREEDY)
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
    again = Qwen2VLForConditionalGeneration.from_pretrained(out).eval()
    c = golden["cases"][0]
    inputs = proc(text=[c["text"]], images=[pics[i] for i in c["images"]], return_tensors="pt")
    with torch.no_grad():
        got = again(**inputs).logits[0, -1].numpy()
    want = np.fromfile(os.path.join(out, "logits-two-images.bin"), dtype="<f4")
    assert np.abs(got - want).max() < 1e-5, "reloaded model differs"
    print("wrote", out, "seed", golden["seed"], "cases", [(c["name"], len(c["input_ids"])) for c in golden["cases"]])


if __name__ == "__main__":
    main()
