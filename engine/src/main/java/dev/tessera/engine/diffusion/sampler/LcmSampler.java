package dev.tessera.engine.diffusion.sampler;

/**
 * diffusers' {@code LCMScheduler}: timesteps picked from the {@code original_inference_steps} schedule, the
 * consistency boundary scalings {@code c_skip}, {@code c_out} (σ_data 0.5, {@code timestep_scaling}), and fresh
 * noise from the job's generator after every step but the last.
 */
final class LcmSampler extends AlphaSampler {
    private final float[] noise;

    LcmSampler(SchedulerSettings s, int steps, int elements) {
        super(s, timesteps(s, steps));
        noise = new float[elements];
    }

    /** {@code steps} timesteps picked evenly from the reversed {@code original_inference_steps} schedule. */
    private static int[] timesteps(SchedulerSettings s, int steps) {
        int orig = s.originalSteps();
        int k = s.trainSteps() / orig;
        int[] origin = new int[orig];
        for (int i = 0; i < orig; i++) origin[i] = (orig - i) * k - 1; // reversed
        if (origin.length / steps < 1) {
            throw new IllegalArgumentException("steps " + steps + " exceed original_inference_steps " + orig);
        }
        int[] timesteps = new int[steps];
        for (int i = 0; i < steps; i++) timesteps[i] = origin[(int) Math.floor((double) i * origin.length / steps)];
        return timesteps;
    }

    @Override
    public void step(int i, float[] modelOut, int offset, float[] latents, TorchGenerator generator) {
        int t = timesteps[i];
        int prev = i + 1 < timesteps.length ? timesteps[i + 1] : t;
        float a = ac[t];
        float aPrev = prev >= 0 ? ac[prev] : finalAc;
        float sa = (float) Math.sqrt(a);
        float sb = (float) Math.sqrt(1f - a);
        float scaled = t * s.timestepScaling();
        float cSkip = 0.25f / (scaled * scaled + 0.25f);
        float cOut = scaled / (float) Math.sqrt(scaled * scaled + 0.25f);
        boolean v = s.predictionType().equals("v_prediction");
        boolean last = i == timesteps.length - 1;
        if (!last) generator.randn(noise);
        float saPrev = (float) Math.sqrt(aPrev);
        float sbPrev = (float) Math.sqrt(1f - aPrev);
        float range = s.clipRange();
        for (int e = 0; e < latents.length; e++) {
            float x = latents[e];
            float m = modelOut[offset + e];
            float x0 = v ? sa * x - sb * m : (x - sb * m) / sa;
            if (s.clipSample()) x0 = Math.max(-range, Math.min(range, x0));
            float denoised = cOut * x0 + cSkip * x;
            latents[e] = last ? denoised : saPrev * denoised + sbPrev * noise[e];
        }
    }
}
