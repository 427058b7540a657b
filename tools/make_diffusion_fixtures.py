#!/usr/bin/env python3
"""Diffusion conformance fixtures: a tiny Stable-Diffusion-shaped pipeline with random weights, and what diffusers
does with it.

Writes engine/src/test/resources/fixtures/sd-tiny/ (a diffusers directory: model_index.json, unet/, vae/,
text_encoder/, tokenizer/ with a classic CLIP vocab.json + merges.txt built here, scheduler/), unet-linear/ (a
second UNet in SD 2.x's style: linear projections, odd latent sizes), and golden.json + golden.safetensors beside
them. Nothing is downloaded; seeds are fixed.

    python3 -m pip install torch diffusers==0.42.1 transformers==5.24.0 safetensors && \
        python3 tools/make_diffusion_fixtures.py
"""
import json
import math
import os
import re
import shutil
from collections import Counter

import numpy as np
import torch
from diffusers import (AutoencoderKL, DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler, FlowMatchEulerDiscreteScheduler, LCMScheduler, PNDMScheduler,
                       StableDiffusionPipeline, UNet2DConditionModel)
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "engine", "src", "test", "resources",
                    "fixtures")
OUT = os.path.join(ROOT, "sd-tiny")

CORPUS = """
a photo of an astronaut riding a horse on the moon. a painting of a red fox in the snow, by a famous artist.
a watercolor landscape with mountains, rivers and a small house. the cat sat on the mat and looked at the
bright stars in the night sky. portrait of an old man with a beard, highly detailed, sharp focus, studio light.
a cozy cabin in the woods at sunset, warm colors, cinematic lighting. two dogs playing in a green field with
flowers. a futuristic city with flying cars and tall glass towers, digital art. still life of apples, pears and
grapes on a wooden table. an oil painting of the sea with ships and clouds. a cute robot reading a book in a
library. hello world, this is a test of the tokenizer: numbers 12345, punctuation!? and symbols #@&.
"""


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def train_clip_bpe(text, merges_wanted):
    """A classic CLIP vocabulary: 256 byte characters, the same with </w>, the merges, then the two specials."""
    b2u = bytes_to_unicode()
    words = Counter(re.findall(r"[a-z]+|[0-9]|[^\sa-z0-9]+", text.lower()))
    seqs = {}
    for w, c in words.items():
        chars = [b2u[b] for b in w.encode("utf-8")]
        chars[-1] = chars[-1] + "</w>"
        seqs[w] = (chars, c)
    merges = []
    while len(merges) < merges_wanted:
        pairs = Counter()
        for chars, c in seqs.values():
            for a, b in zip(chars, chars[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        for w, (chars, c) in seqs.items():
            out, i = [], 0
            while i < len(chars):
                if i + 1 < len(chars) and (chars[i], chars[i + 1]) == best:
                    out.append(chars[i] + chars[i + 1])
                    i += 2
                else:
                    out.append(chars[i])
                    i += 1
            seqs[w] = (out, c)
    vocab = list(b2u.values())
    vocab = vocab + [v + "</w>" for v in vocab]
    for a, b in merges:
        vocab.append(a + b)
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(vocab)}, merges


def rand_(module, seed, std=0.2):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(module.named_parameters()):
            if name.endswith("norm.weight") or ".norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))


def tiny_unet():
    return UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=2, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=(2, 4), norm_num_groups=8)


def linear_unet():
    return UNet2DConditionModel(
        block_out_channels=(8, 16, 16), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, attention_head_dim=2, norm_num_groups=4, use_linear_projection=True)


def main():
    torch.manual_seed(0)
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    tensors = {}
    golden = {}

    # Tokenizer: vocab.json + merges.txt, loaded by transformers' CLIPTokenizer.
    vocab, merges = train_clip_bpe(CORPUS, 486)
    tdir = os.path.join(OUT, "tokenizer")
    os.makedirs(tdir)
    with open(os.path.join(tdir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(tdir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    tok_cfg = {"tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "bos_token": "<|startoftext|>",
               "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
               "do_lower_case": True}
    with open(os.path.join(tdir, "tokenizer_config.json"), "w") as f:
        json.dump(tok_cfg, f, indent=2)
    with open(os.path.join(tdir, "special_tokens_map.json"), "w") as f:
        json.dump({k: tok_cfg[k] for k in ("bos_token", "eos_token", "pad_token", "unk_token")}, f, indent=2)
    tokenizer = CLIPTokenizer(vocab=os.path.join(tdir, "vocab.json"), merges=os.path.join(tdir, "merges.txt"))
    tokenizer = CLIPTokenizer.from_pretrained(tdir)
    prompts = ["a photo of an astronaut riding a horse", "", "Hello, World!  It's 2024... #tessera",
               "A   Painting\tof\nthe SEA, with ships & clouds; (very) detailed: 8k",
               "café naïve façade — ünïcödé 東京 🙂",
               " ".join(["a cozy cabin in the woods at sunset"] * 12)]
    golden["tokenizer"] = [{"prompt": p, "ids": tokenizer(p, padding="max_length", max_length=77,
                                                             truncation=True).input_ids} for p in prompts]

    # Text encoder.
    te_cfg = CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_attention_heads=4,
                            num_hidden_layers=5, max_position_embeddings=77, layer_norm_eps=1e-5,
                            hidden_act="quick_gelu", bos_token_id=vocab["<|startoftext|>"],
                            eos_token_id=vocab["<|endoftext|>"], pad_token_id=vocab["<|endoftext|>"])
    text_encoder = CLIPTextModel(te_cfg).eval()
    rand_(text_encoder, 1, 0.15)
    ids = torch.tensor([g["ids"] for g in golden["tokenizer"][:4]])
    with torch.no_grad():
        tensors["text_encoder.ids"] = ids.to(torch.int64)
        tensors["text_encoder.hidden"] = text_encoder(ids)[0].contiguous()

    # UNet (SD 1.x style: conv projections, heads per block as a list).
    unet = tiny_unet().eval()
    rand_(unet, 2, 0.1)
    g = torch.Generator().manual_seed(3)
    sample = torch.randn((3, 4, 24, 16), generator=g)
    t = torch.tensor([999.0, 500.5, 10.0])
    ctx = torch.randn((3, 77, 32), generator=g)
    with torch.no_grad():
        tensors["unet.sample"] = sample
        tensors["unet.timesteps"] = t
        tensors["unet.context"] = ctx
        tensors["unet.out"] = unet(sample, t, encoder_hidden_states=ctx).sample.contiguous()
        one = unet(sample[1:2], t[1:2], encoder_hidden_states=ctx[1:2]).sample
        golden["unet_row_alone_vs_batched_max_diff"] = float((one - tensors["unet.out"][1:2]).abs().max())

    # A second UNet in SD 2.x's style, saved on its own: linear projections, three levels, odd latent sizes.
    lunet = linear_unet().eval()
    rand_(lunet, 4, 0.1)
    g = torch.Generator().manual_seed(5)
    lsample = torch.randn((2, 4, 6, 10), generator=g)
    lt = torch.tensor([700.0, 3.25])
    lctx = torch.randn((2, 77, 32), generator=g)
    with torch.no_grad():
        tensors["unet_linear.sample"] = lsample
        tensors["unet_linear.timesteps"] = lt
        tensors["unet_linear.context"] = lctx
        tensors["unet_linear.out"] = lunet(lsample, lt, encoder_hidden_states=lctx).sample.contiguous()
    lunet.save_pretrained(os.path.join(ROOT, "sd-tiny-unet-linear"), safe_serialization=True)

    # VAE (scale factor 2: two levels).
    vae = AutoencoderKL(block_out_channels=[16, 32], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                        latent_channels=4, norm_num_groups=8, sample_size=32).eval()
    rand_(vae, 6, 0.1)

    sched = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
                          set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=sched, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    pipe.save_pretrained(OUT, safe_serialization=True)
    for junk in ("safety_checker", "feature_extractor"):
        p = os.path.join(OUT, junk)
        if os.path.exists(p):
            shutil.rmtree(p)
    # The saved tokenizer folder is replaced by the classic files only (what published SD checkpoints carry).
    shutil.rmtree(os.path.join(OUT, "tokenizer"))
    os.makedirs(tdir)
    with open(os.path.join(tdir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(tdir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    with open(os.path.join(tdir, "tokenizer_config.json"), "w") as f:
        json.dump(tok_cfg, f, indent=2)
    with open(os.path.join(tdir, "special_tokens_map.json"), "w") as f:
        json.dump({k: tok_cfg[k] for k in ("bos_token", "eos_token", "pad_token", "unk_token")}, f, indent=2)

    # Initial noise: torch.randn with a seeded CPU generator (what diffusers' randn_tensor calls).
    for seed, shape in ((7, (1, 4, 24, 16)), (123456789, (2, 4, 5, 3)), (2 ** 40 + 3, (1, 4, 1, 9))):
        tensors[f"randn.{seed}"] = torch.randn(shape, generator=torch.Generator().manual_seed(seed))

    samplers = {
        "euler": EulerDiscreteScheduler, "euler_a": EulerAncestralDiscreteScheduler, "ddim": DDIMScheduler,
        "dpmpp_2m": DPMSolverMultistepScheduler, "lcm": LCMScheduler,
    }
    runs = [
        ("euler", {}, 6, 7.5, 1, 11),
        ("euler_a", {}, 6, 5.0, 2, 12),
        ("ddim", {}, 6, 1.0, 1, 13),
        ("dpmpp_2m", {}, 6, 7.5, 1, 14),
        ("dpmpp_2m", {"use_karras_sigmas": True}, 7, 3.0, 1, 15),
        ("lcm", {}, 4, 1.0, 1, 16),
        ("euler", {"prediction_type": "v_prediction", "timestep_spacing": "trailing"}, 3, 0.0, 1, 17),
        ("ddim", {"prediction_type": "v_prediction", "timestep_spacing": "trailing", "rescale_betas_zero_snr": True},
         4, 4.0, 1, 18),
    ]
    golden["runs"] = []
    # As a user's from_config(scheduler_config.json) sees it: keys absent from the file take the sampler's defaults
    # (an in-memory config would also drop the keys it marks _use_default_values, such as timestep_spacing).
    with open(os.path.join(OUT, "scheduler", "scheduler_config.json"), encoding="utf-8") as f:
        base = json.load(f)
    for i, (name, extra, steps, guidance, n, seed) in enumerate(runs):
        cfg = dict(base)
        cfg.update(extra)
        pipe.scheduler = samplers[name].from_config(cfg)
        latents = pipe("a red fox in the snow", negative_prompt="blurry", num_inference_steps=steps,
                       guidance_scale=guidance, num_images_per_prompt=n, height=48, width=32,
                       generator=torch.Generator().manual_seed(seed), output_type="latent").images
        tensors[f"run{i}.latents"] = latents.contiguous()
        # The initial latents the pipeline drew first from its generator (before any sampler noise).
        tensors[f"run{i}.init"] = torch.randn((n, 4, 24, 16), generator=torch.Generator().manual_seed(seed))
        golden["runs"].append({"sampler": name, "config": extra, "steps": steps, "guidance": guidance,
                               "num_images": n, "seed": seed, "prompt": "a red fox in the snow",
                               "negative_prompt": "blurry", "height": 48, "width": 32,
                               "timesteps": [float(x) for x in pipe.scheduler.timesteps],
                               "effective_config": {k: v for k, v in pipe.scheduler.config.items()
                                                    if not k.startswith("_") and not (isinstance(v, float)
                                                                                      and not math.isfinite(v))}})
    # Image-to-image: StableDiffusionImg2ImgPipeline from an image already in the pipeline's [-1, 1] layout.
    from diffusers import StableDiffusionImg2ImgPipeline
    i2i = StableDiffusionImg2ImgPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                         scheduler=pipe.scheduler, safety_checker=None, feature_extractor=None,
                                         requires_safety_checker=False)
    i2i.set_progress_bar_config(disable=True)
    init = torch.rand((1, 3, 48, 32), generator=torch.Generator().manual_seed(50))
    tensors["img2img.image"] = i2i.image_processor.preprocess(init).contiguous()
    golden["img2img"] = []
    for i, (name, steps, strength, guidance, seed) in enumerate((("euler", 6, 0.6, 7.5, 21), ("ddim", 5, 0.5, 1.0, 22),
                                                                 ("dpmpp_2m", 6, 0.7, 3.0, 23))):
        i2i.scheduler = samplers[name].from_config(base)
        latents = i2i("a red fox in the snow", image=init, negative_prompt="blurry", strength=strength,
                      num_inference_steps=steps, guidance_scale=guidance,
                      generator=torch.Generator().manual_seed(seed), output_type="latent").images
        tensors[f"img2img{i}.latents"] = latents.contiguous()
        golden["img2img"].append({"sampler": name, "steps": steps, "strength": strength, "guidance": guidance,
                                  "seed": seed, "prompt": "a red fox in the snow", "negative_prompt": "blurry",
                                  "timesteps": [float(x) for x in i2i.scheduler.timesteps]})

    # VAE decode of run 0's latents, as the pipeline does it.
    with torch.no_grad():
        img = vae.decode(tensors["run0.latents"] / vae.config.scaling_factor).sample
        tensors["vae.image"] = (img / 2 + 0.5).clamp(0, 1).contiguous()
        # The encoder's posterior mean for an image in [-1, 1] (image-to-image starts from it).
        enc_in = (torch.rand((1, 3, 16, 24), generator=torch.Generator().manual_seed(40)) * 2 - 1)
        tensors["vae_enc.image"] = enc_in
        tensors["vae_enc.mean"] = vae.encode(enc_in).latent_dist.mean.contiguous()

    # Flow-matching Euler on its own, with a synthetic velocity field v = 0.5 * x - sigma.
    golden["flow"] = []
    for i, (shift, steps) in enumerate(((1.0, 5), (3.0, 8))):
        s = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
        s.set_timesteps(steps)
        x = torch.randn((1, 4, 3, 5), generator=torch.Generator().manual_seed(30 + i))
        tensors[f"flow{i}.init"] = x.clone()
        for t in s.timesteps:
            sigma = s.sigmas[s.step_index if s.step_index is not None else 0]
            v = 0.5 * x - sigma
            x = s.step(v, t, x).prev_sample
        tensors[f"flow{i}.final"] = x.contiguous()
        golden["flow"].append({"shift": shift, "steps": steps, "timesteps": [float(t) for t in s.timesteps],
                               "sigmas": [float(v) for v in s.sigmas]})

    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(ROOT, "sd-tiny-golden.safetensors"))
    with open(os.path.join(ROOT, "sd-tiny-golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, indent=1, ensure_ascii=False)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
