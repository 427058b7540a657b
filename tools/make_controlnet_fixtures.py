#!/usr/bin/env python3
"""ControlNet conformance fixtures: a tiny random ControlNetModel shaped like diffusers' own ControlNet tests, fitted
to the sd-tiny fixture pipeline (run tools/make_diffusion_fixtures.py first), and what diffusers does with it.

Writes engine/src/test/resources/fixtures/sd-tiny-controlnet/ (config.json + diffusion_pytorch_model.safetensors,
what `serve --controlnet PATH` takes), two control images (control-a.png, control-b.png) and
controlnet-golden.json + controlnet-golden.safetensors beside them:
- the residuals (down and mid) of a batch whose rows have different timesteps, text embeddings, control images and
  conditioning scales (each row run alone by diffusers, whose conditioning_scale is one float per call);
- the UNet's noise prediction with those residuals added, and the guided noise of a CFG pair;
- the control-image preprocessing of StableDiffusionControlNetPipeline.prepare_image (VaeImageProcessor with
  do_normalize=False: PIL resize with its resample, values in [0, 1]);
- whole StableDiffusionControlNetPipeline runs (output_type="latent") with their initial latents.
Nothing is downloaded; seeds are fixed.

    python3 -m pip install torch diffusers==0.42.1 transformers==5.24.0 safetensors pillow && \
        python3 tools/make_controlnet_fixtures.py
"""
import json
import os
import shutil

import numpy as np
import torch
from PIL import Image
from diffusers import (ControlNetModel, DDIMScheduler, EulerDiscreteScheduler, StableDiffusionControlNetPipeline,
                       StableDiffusionPipeline)
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "engine", "src", "test", "resources",
                    "fixtures")
PIPELINE = os.path.join(ROOT, "sd-tiny")
OUT = os.path.join(ROOT, "sd-tiny-controlnet")


def rand_(module, seed, std=0.2):
    """As make_diffusion_fixtures.py: norms near one, everything else (the zero convolutions too) random."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(module.named_parameters()):
            if name.endswith("norm.weight") or ".norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))


def control_image(seed, width, height):
    rng = np.random.default_rng(seed)
    # smooth-ish content (a gradient plus noise) so that resampling matters
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 / max(1, width - 1), yy * 255 / max(1, height - 1), (xx + yy) % 64 * 4], axis=-1)
    img = np.clip(base + rng.normal(0, 40, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(img, "RGB")


def main():
    torch.manual_seed(0)
    base = StableDiffusionPipeline.from_pretrained(PIPELINE, safety_checker=None, feature_extractor=None,
                                                   requires_safety_checker=False)
    unet, vae, text_encoder, tokenizer = base.unet.eval(), base.vae.eval(), base.text_encoder.eval(), base.tokenizer
    # diffusers' ControlNet tests: conditioning_embedding_out_channels (16, 32), the UNet's blocks; two levels of
    # conditioning embedding give the sd-tiny VAE's 2x scale.
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(16, 32),
                                           load_weights_from_unet=False).eval()
    rand_(controlnet, 8, 0.1)
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    controlnet.save_pretrained(OUT, safe_serialization=True)
    tensors = {}
    golden = {}

    # Residuals: three rows at different timesteps, each with its own embedding, control image and scale.
    g = torch.Generator().manual_seed(60)
    sample = torch.randn((3, 4, 24, 16), generator=g)
    t = torch.tensor([999.0, 500.5, 10.0])
    ctx = torch.randn((3, 77, 32), generator=g)
    cond = torch.rand((3, 3, 48, 32), generator=g)
    scales = [1.0, 0.5, 1.75]
    with torch.no_grad():
        rows = [controlnet(sample[i:i + 1], t[i:i + 1], encoder_hidden_states=ctx[i:i + 1],
                           controlnet_cond=cond[i:i + 1], conditioning_scale=scales[i], return_dict=False)
                for i in range(3)]
        down = [torch.cat([r[0][k] for r in rows]) for k in range(len(rows[0][0]))]
        mid = torch.cat([r[1] for r in rows])
        tensors["cn.sample"] = sample
        tensors["cn.timesteps"] = t
        tensors["cn.context"] = ctx
        tensors["cn.cond"] = cond
        tensors["cn.scales"] = torch.tensor(scales)
        for k, d in enumerate(down):
            tensors[f"cn.down{k}"] = d.contiguous()
        tensors["cn.mid"] = mid.contiguous()
        golden["down_residuals"] = len(down)
        # The UNet with those residuals added to its skips and after its mid block.
        tensors["cn.noise"] = unet(sample, t, encoder_hidden_states=ctx, down_block_additional_residuals=down,
                                   mid_block_additional_residual=mid).sample.contiguous()
        # A CFG pair as the pipeline runs it (guess_mode off): both rows through the ControlNet, then guidance.
        pair = torch.cat([sample[1:2]] * 2)
        pair_t = torch.tensor([500.5, 500.5])
        pair_ctx = ctx[:2]
        pair_cond = torch.cat([cond[1:2]] * 2)
        pd, pm = controlnet(pair, pair_t, encoder_hidden_states=pair_ctx, controlnet_cond=pair_cond,
                            conditioning_scale=0.8, return_dict=False)
        noise = unet(pair, pair_t, encoder_hidden_states=pair_ctx, down_block_additional_residuals=pd,
                     mid_block_additional_residual=pm).sample
        u, c = noise.chunk(2)
        tensors["cn.guided"] = (u + 7.5 * (c - u)).contiguous()
        golden["guided"] = {"scale": 0.8, "guidance": 7.5, "row": 1, "uncond_context_row": 0, "cond_context_row": 1}

    # The control image as prepare_image makes it: one image resized up in one axis and down in the other, one
    # downscaled in both, one already at the output size.
    pipe = StableDiffusionControlNetPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                             controlnet=controlnet, scheduler=EulerDiscreteScheduler.from_config(
                                                 base.scheduler.config), safety_checker=None,
                                             feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    golden["prepare"] = []
    images = {"control-a.png": control_image(70, 37, 29), "control-b.png": control_image(71, 90, 70),
              "control-c.png": control_image(72, 32, 48)}
    for name, img in images.items():
        img.save(os.path.join(ROOT, name))
    for i, (name, w, h) in enumerate((("control-a.png", 32, 48), ("control-b.png", 32, 48),
                                      ("control-c.png", 32, 48))):
        img = Image.open(os.path.join(ROOT, name))
        prepared = pipe.prepare_image(img, width=w, height=h, batch_size=1, num_images_per_prompt=1,
                                      device="cpu", dtype=torch.float32)
        tensors[f"prepare{i}"] = prepared.contiguous()
        golden["prepare"].append({"file": name, "width": w, "height": h,
                                  "resample": pipe.control_image_processor.config.resample})

    # Whole runs from the same initial latents (drawn from the seed, as the plain pipeline does).
    with open(os.path.join(PIPELINE, "scheduler", "scheduler_config.json"), encoding="utf-8") as f:
        sched_cfg = json.load(f)
    golden["runs"] = []
    runs = [("euler", EulerDiscreteScheduler, 5, 7.5, 0.8, 1, "control-a.png", 31),
            ("ddim", DDIMScheduler, 4, 1.0, 1.3, 2, "control-b.png", 32)]
    for i, (name, cls, steps, guidance, scale, n, file, seed) in enumerate(runs):
        pipe.scheduler = cls.from_config(sched_cfg)
        img = Image.open(os.path.join(ROOT, file))
        latents = pipe("a red fox in the snow", image=img, negative_prompt="blurry", num_inference_steps=steps,
                       guidance_scale=guidance, controlnet_conditioning_scale=scale, num_images_per_prompt=n,
                       height=48, width=32, generator=torch.Generator().manual_seed(seed),
                       output_type="latent").images
        tensors[f"run{i}.latents"] = latents.contiguous()
        tensors[f"run{i}.init"] = torch.randn((n, 4, 24, 16), generator=torch.Generator().manual_seed(seed))
        golden["runs"].append({"sampler": name, "steps": steps, "guidance": guidance, "control_scale": scale,
                               "num_images": n, "control_image": file, "seed": seed,
                               "prompt": "a red fox in the snow", "negative_prompt": "blurry", "height": 48,
                               "width": 32})

    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(ROOT, "controlnet-golden.safetensors"))
    with open(os.path.join(ROOT, "controlnet-golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, indent=1)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
