package dev.tessera.engine.diffusion.sampler;

/**
 * diffusers' {@code DDIMScheduler} with η = 0 (the pipelines' default): x0 from the prediction (clipped when
 * {@code clip_sample}), then the deterministic step to the previous timestep {@code t − N / steps} (ᾱ of the final
 * step is {@code 1} or ᾱ₀ per {@code set_alpha_to_one}).
 */
final class DdimSampler extends AlphaSampler {
    private final int stride;

    DdimSampler(SchedulerSettings s, int steps) {
        super(s, Timesteps.ddim(s, steps));
        this.stride = s.trainSteps() / steps;
    }

    @Override
    public void step(int i, float[] modelOut, int offset, float[] latents, TorchGenerator generator) {
        int t = timesteps[i];
        int prev = t - stride;
        float a = ac[t];
        float aPrev = prev >= 0 ? ac[prev] : finalAc;
        float b = 1f - a;
        float sa = (float) Math.sqrt(a);
        float sb = (float) Math.sqrt(b);
        float dir = (float) Math.sqrt(1f - aPrev - 0f);
        float saPrev = (float) Math.sqrt(aPrev);
        boolean v = s.predictionType().equals("v_prediction");
        float range = s.clipRange();
        for (int e = 0; e < latents.length; e++) {
            float x = latents[e];
            float m = modelOut[offset + e];
            float x0;
            float eps;
            if (v) {
                x0 = sa * x - sb * m;
                eps = sa * m + sb * x;
            } else {
                x0 = (x - sb * m) / sa;
                eps = m;
            }
            if (s.clipSample()) x0 = Math.max(-range, Math.min(range, x0));
            latents[e] = saPrev * x0 + dir * eps;
        }
    }
}
