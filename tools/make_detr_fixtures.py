#!/usr/bin/env python3
"""Builds the DETR conformance fixtures used by the engine's Java tests (``dev.tessera.engine.detect``).

Everything is made from code and fixed seeds; nothing is downloaded. The script writes, under
``engine/src/test/resources/fixtures/``:

* ``detr-images/``: three test images of different sizes and aspect ratios (made here from shapes and noise):
  ``landscape.png`` (200x150 RGB, downscaled), ``portrait.jpg`` (120x260 JPEG 4:2:0, quality 90, hits the
  longest-edge limit) and ``small.png`` (80x64 RGBA, upscaled; alpha is dropped as by PIL's ``convert("RGB")``);
  for each, ``<name>.hf.png`` holds ``DetrImageProcessor``'s resized image (uint8, before rescale/normalize);
  ``preprocessor_config.json`` is the processor both models use (shortest edge 128, longest edge 200).
* ``detr-timm/``: a tiny random ``DetrForObjectDetection`` whose backbone has timm's ResNet weight layout
  (``model.backbone.conv_encoder.model.layer1.0.conv1.weight`` ...), from a timm ``ResNet`` with Bottleneck blocks,
  depths (1, 2, 2, 1) and widths (4, 8, 16, 32) registered here as ``resnet_tessera_tiny`` (transformers 5.24 does
  not forward model arguments such as ``layers``/``channels`` from the config to ``timm.create_model``, so a
  registered name is the way to get a tiny timm ResNet). Its ``config.json`` is rewritten in the legacy key style of
  published checkpoints such as ``facebook/detr-resnet-50`` (top-level ``use_timm_backbone`` and ``backbone``);
  ``config.transformers5.json`` is the same model's config as transformers 5.24 writes it
  (``backbone_config: {model_type: timm_backbone, ...}``).
* ``detr-resnet/``: the same transformer with a transformers-native ``ResNetConfig`` backbone
  (``...conv_encoder.model.encoder.stages.0.layers.0.layer.0.convolution.weight`` ...), bottleneck, depths
  (1, 2, 2, 1), hidden sizes (16, 32, 64, 128).

Both models: d_model 32, 2 encoder + 2 decoder layers, 4 heads, FFN 64, 16 queries, 6 labels; every BatchNorm has
random weight, bias, running mean and running variance (so folding is exercised); the class head is scaled up so
that scores are well separated (random DETR queries otherwise differ by ~1e-3). ``golden.json`` per model holds, for
each image, HF's ``logits`` and ``pred_boxes`` computed from HF's own pixel values, and the detections of
``post_process_object_detection`` at a low threshold with ``target_sizes`` = the original size, sorted best first
(score descending, ties by query index; HF itself returns them in query order). The script refuses a seed whose
adjacent sorted scores are closer than 1e-5 (so the order cannot flip on rounding) or whose fp32 logits differ from
fp64 by more than 1e-5 on any image (so the model is not so ill-conditioned that fp32 rounding alone eats the 1e-4
tolerance).

Pre-processing path: ``DetrImageProcessor`` in transformers 5.24 resizes through torchvision (antialiased bilinear
on uint8 tensors) and fuses rescale and normalize; that is the path recorded here. Its uint8 output is recovered
exactly from ``pixel_values`` (checked), and differs from PIL's bilinear resize by at most 1 level (recorded per
image as ``pil_max_diff``).

Regenerate with::

    python3 -m pip install torch torchvision transformers==5.24.0 timm==1.0.31 safetensors pillow
    python3 tools/make_detr_fixtures.py

``--full-resnet101 DIR`` instead writes a full-size random DETR (timm ``resnet101``, d_model 256, 6+6 layers, 100
queries, 91 labels, default 800/1333 pre-processing) with a golden for the landscape image into DIR (about 240 MB;
never committed), for a one-off check of the converter at real size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import timm
import torch
from PIL import Image, ImageDraw
from timm.models import register_model
from timm.models.resnet import Bottleneck, _create_resnet
from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessor, ResNetConfig

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "engine" / "src" / "test" / "resources" / "fixtures"
LABELS = ["person", "bicycle", "car", "dog", "cat", "chair"]
THRESHOLD = 0.05
MIN_SCORE_GAP = 1e-5
MAX_FP32_NOISE = 1e-5


@register_model
def resnet_tessera_tiny(pretrained=False, **kwargs):
    """A tiny timm ResNet with the exact weight layout of timm's resnet50/101 (Bottleneck, 7x7 stem, 1x1 shortcut)."""
    args = dict(block=Bottleneck, layers=(1, 2, 2, 1), channels=(4, 8, 16, 32), stem_width=8)
    return _create_resnet("resnet_tessera_tiny", pretrained, **dict(args, **kwargs))


def transformer_args(num_labels: int) -> dict:
    return dict(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
                encoder_ffn_dim=64, decoder_ffn_dim=64, num_queries=16, init_std=0.2,
                id2label={i: n for i, n in enumerate(LABELS[:num_labels])},
                label2id={n: i for i, n in enumerate(LABELS[:num_labels])})


def randomize(model: DetrForObjectDetection, seed: int, class_scale: float) -> None:
    """Random BatchNorm statistics and affine parameters; a class head scaled so that scores separate."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, buf in list(model.named_buffers()) + list(model.named_parameters()):
            if "backbone" not in name:
                continue
            if name.endswith("running_mean") or (name.endswith(".bias") and buf.dim() == 1):
                buf.copy_(torch.randn(buf.shape, generator=g) * 0.1)
            elif name.endswith("running_var"):
                buf.copy_(0.5 + torch.rand(buf.shape, generator=g))
            elif name.endswith(".weight") and buf.dim() == 1:
                buf.copy_(0.5 + torch.rand(buf.shape, generator=g))
            elif buf.dim() == 4:
                fan_in = buf.shape[1] * buf.shape[2] * buf.shape[3]
                buf.copy_(torch.randn(buf.shape, generator=g) * (2.0 / fan_in) ** 0.5)
        model.model.query_position_embeddings.weight.copy_(
            torch.randn(model.model.query_position_embeddings.weight.shape, generator=g))
        model.class_labels_classifier.weight.mul_(class_scale)
        model.class_labels_classifier.bias.copy_(torch.randn(model.class_labels_classifier.bias.shape, generator=g))


def make_images(out: Path) -> list[dict]:
    """Three images of different sizes and aspect ratios, drawn from a fixed seed."""
    rng = np.random.default_rng(20240531)
    specs = [("landscape.png", 200, 150, "PNG", "RGB"), ("portrait.jpg", 120, 260, "JPEG", "RGB"),
             ("small.png", 80, 64, "PNG", "RGBA")]
    images = []
    for name, w, h, fmt, mode in specs:
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([x * 255.0 / w, y * 255.0 / h, (x + y) * 127.0 / (w + h) + 64], axis=-1)
        img = Image.fromarray(np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8), "RGB")
        d = ImageDraw.Draw(img)
        for _ in range(6):
            x0, y0 = int(rng.integers(0, w - 8)), int(rng.integers(0, h - 8))
            x1, y1 = x0 + int(rng.integers(6, w // 2)), y0 + int(rng.integers(6, h // 2))
            color = tuple(int(c) for c in rng.integers(0, 256, 3))
            (d.ellipse if rng.random() < 0.5 else d.rectangle)((x0, y0, x1, y1), fill=color)
        if mode == "RGBA":
            alpha = Image.fromarray(rng.integers(0, 256, (h, w)).astype(np.uint8), "L")
            img = img.convert("RGBA")
            img.putalpha(alpha)
        path = out / name
        if fmt == "JPEG":
            img.save(path, "JPEG", quality=90, subsampling=2)
        else:
            img.save(path, "PNG", optimize=True)
        images.append({"file": name, "format": fmt, "width": w, "height": h})
    return images


def preprocess(processor: DetrImageProcessor, path: Path, out: Path) -> tuple[torch.Tensor, dict]:
    """HF pixel values of one image, its resized uint8 image saved as <name>.hf.png, and the PIL-path difference."""
    image = Image.open(path).convert("RGB")
    enc = processor(images=image, return_tensors="pt")
    pv = enc["pixel_values"]
    assert enc["pixel_mask"].min().item() == 1, "one image alone must not be padded"
    mean = torch.tensor(processor.image_mean) * (1.0 / processor.rescale_factor)
    std = torch.tensor(processor.image_std) * (1.0 / processor.rescale_factor)
    u = pv[0] * std[:, None, None] + mean[:, None, None]
    u8 = u.round().clamp(0, 255).to(torch.uint8)
    again = (u8.to(torch.float32) - mean[:, None, None]) / std[:, None, None]
    assert torch.equal(again, pv[0]), "torchvision path output is not uint8-exact"
    hwc = u8.permute(1, 2, 0).numpy()
    Image.fromarray(hwc, "RGB").save(out / (path.name.rsplit(".", 1)[0] + ".hf.png"), "PNG", optimize=True)
    h, w = hwc.shape[:2]
    pil = np.asarray(image.resize((w, h), Image.BILINEAR)).astype(int)
    info = {"hf_pixels": path.name.rsplit(".", 1)[0] + ".hf.png", "resized_height": h, "resized_width": w,
            "pil_max_diff": int(np.abs(pil - hwc.astype(int)).max())}
    return pv, info


def detections(processor, outputs, orig_h: int, orig_w: int, threshold: float) -> list[dict]:
    res = processor.post_process_object_detection(outputs, threshold=threshold, target_sizes=[(orig_h, orig_w)])[0]
    scores = outputs.logits.softmax(-1)[0, :, :-1].max(-1).values
    queries = torch.nonzero(scores > threshold).flatten().tolist()  # HF keeps query order
    dets = [{"query": q, "label": int(l), "score": float(s), "box": [float(v) for v in b]}
            for q, s, l, b in zip(queries, res["scores"], res["labels"], res["boxes"])]
    for d, q in zip(dets, queries):
        assert abs(d["score"] - float(scores[q])) == 0
    return sorted(dets, key=lambda d: (-d["score"], d["query"]))


def min_gap(dets: list[dict]) -> float:
    gaps = [a["score"] - b["score"] for a, b in zip(dets, dets[1:])]
    return min(gaps) if gaps else 1.0


def fp32_noise(model, pv) -> float:
    """How far transformers' own fp32 logits are from fp64: an ill-conditioned random model would leave no margin."""
    with torch.no_grad():
        o32 = model(pixel_values=pv).logits.double()
        o64 = model.double()(pixel_values=pv.double()).logits
    model.float()
    return float((o32 - o64).abs().max())


def build(kind: str, seed: int) -> DetrForObjectDetection:
    torch.manual_seed(seed)
    if kind == "timm":
        config = DetrConfig(use_timm_backbone=True, backbone="resnet_tessera_tiny", **transformer_args(len(LABELS)))
    else:
        backbone = ResNetConfig(embedding_size=8, hidden_sizes=[16, 32, 64, 128], depths=[1, 2, 2, 1],
                                layer_type="bottleneck", out_features=["stage4"])
        config = DetrConfig(use_timm_backbone=False, backbone_config=backbone, **transformer_args(len(LABELS)))
    model = DetrForObjectDetection(config).eval()
    randomize(model, seed, class_scale=3.0)
    return model


def legacy_timm_config(config: dict) -> dict:
    """The transformers-5 config rewritten in the key style of published checkpoints (facebook/detr-resnet-50)."""
    c = {k: v for k, v in config.items() if k != "backbone_config"}
    c.update({"backbone": config["backbone_config"]["backbone"], "use_timm_backbone": True,
              "use_pretrained_backbone": False, "backbone_config": None,
              "dilation": False, "num_channels": 3})
    return dict(sorted(c.items()))


def run_case(model, processor, pv, orig_h, orig_w, threshold):
    with torch.no_grad():
        out = model(pixel_values=pv, pixel_mask=torch.ones(pv.shape[0], pv.shape[2], pv.shape[3], dtype=torch.long))
    return out, detections(processor, out, orig_h, orig_w, threshold)


def write_model(kind: str, processor, images, pixels, base_seed: int) -> None:
    out = OUT / f"detr-{kind}"
    for attempt in range(20):
        seed = base_seed + attempt
        model = build(kind, seed)
        cases, ok = [], True
        for img, (pv, info) in zip(images, pixels):
            out_hf, dets = run_case(model, processor, pv, img["height"], img["width"], THRESHOLD)
            if min_gap(dets) < MIN_SCORE_GAP or len(dets) < 6 or fp32_noise(model, pv) > MAX_FP32_NOISE:
                ok = False
                break
            cases.append({**img, **info, "logits": out_hf.logits[0].flatten().tolist(),
                          "pred_boxes": out_hf.pred_boxes[0].flatten().tolist(), "detections": dets,
                          "min_score_gap": min_gap(dets)})
        if ok:
            break
    else:
        sys.exit(f"no seed gives separated scores for {kind}")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    config = json.loads((out / "config.json").read_text())
    if kind == "timm":
        (out / "config.transformers5.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        (out / "config.json").write_text(json.dumps(legacy_timm_config(config), indent=2) + "\n")
    golden = {"seed": seed, "threshold": THRESHOLD, "num_queries": model.config.num_queries,
              "num_labels": model.config.num_labels, "cases": cases}
    (out / "golden.json").write_text(json.dumps(golden) + "\n")
    # The files on disk are what the goldens describe: reload and compare.
    loaded, info = DetrForObjectDetection.from_pretrained(out, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    loaded.eval()
    for case, (pv, _) in zip(cases, pixels):
        with torch.no_grad():
            o = loaded(pixel_values=pv)
        assert torch.equal(o.logits[0].flatten(), torch.tensor(case["logits"])), kind
    print(f"detr-{kind}: seed {seed}, detections per image {[len(c['detections']) for c in cases]}, "
          f"min score gap {min(c['min_score_gap'] for c in cases):.2e}, "
          f"sizes {[(c['resized_height'], c['resized_width']) for c in cases]}, "
          f"pil max diff {[c['pil_max_diff'] for c in cases]}")


def full_resnet101(out: Path) -> None:
    torch.manual_seed(101)
    config = DetrConfig(use_timm_backbone=True, backbone="resnet101", num_labels=91,
                        id2label={i: f"class_{i}" for i in range(91)}, label2id={f"class_{i}": i for i in range(91)})
    model = DetrForObjectDetection(config).eval()
    randomize(model, 101, class_scale=3.0)
    processor = DetrImageProcessor()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    images = make_images(out)
    pv, info = preprocess(processor, out / images[0]["file"], out)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    config_json = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps(legacy_timm_config(config_json), indent=2) + "\n")
    out_hf, dets = run_case(model, processor, pv, images[0]["height"], images[0]["width"], THRESHOLD)
    golden = {"threshold": THRESHOLD, "num_queries": 100, "num_labels": 91,
              "cases": [{**images[0], **info, "logits": out_hf.logits[0].flatten().tolist(),
                         "pred_boxes": out_hf.pred_boxes[0].flatten().tolist(), "detections": dets,
                         "min_score_gap": min_gap(dets)}]}
    (out / "golden.json").write_text(json.dumps(golden) + "\n")
    print(f"full resnet101 DETR in {out}: pixels {tuple(pv.shape)}, {len(dets)} detections, "
          f"min score gap {min_gap(dets):.2e}, parameters {sum(p.numel() for p in model.parameters())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full-resnet101", type=Path, help="write a full-size random ResNet-101 DETR here instead")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.full_resnet101:
        full_resnet101(args.full_resnet101)
        return
    images_dir = OUT / "detr-images"
    if images_dir.exists():
        shutil.rmtree(images_dir)
    images_dir.mkdir(parents=True)
    processor = DetrImageProcessor(size={"shortest_edge": 128, "longest_edge": 200})
    processor.save_pretrained(images_dir)
    images = make_images(images_dir)
    pixels = [preprocess(processor, images_dir / img["file"], images_dir) for img in images]
    write_model("timm", processor, images, pixels, 1000)
    write_model("resnet", processor, images, pixels, 2000)


if __name__ == "__main__":
    main()
