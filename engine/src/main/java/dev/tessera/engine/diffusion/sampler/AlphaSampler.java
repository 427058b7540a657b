package dev.tessera.engine.diffusion.sampler;

/**
 * What the samplers parameterised by ᾱ (the cumulative alpha products) over integer training timesteps share: the
 * schedule from {@code scheduler_config.json}, unscaled model input, unit initial noise, and image-to-image noising
 * {@code √ᾱ_t·x + √(1−ᾱ_t)·ε}. Subclasses pick the timesteps and the step.
 */
abstract class AlphaSampler implements Sampler {
    final SchedulerSettings s;
    final float[] ac;
    /** ᾱ after the last step: 1 or ᾱ₀, per {@code set_alpha_to_one}. */
    final float finalAc;
    /** The training timesteps of the steps, first to last. */
    final int[] timesteps;

    AlphaSampler(SchedulerSettings s, int[] timesteps) {
        this.s = s;
        this.ac = NoiseSchedule.alphasCumprod(s.betas(), s.rescaleZeroSnr());
        this.finalAc = s.setAlphaToOne() ? 1f : ac[0];
        this.timesteps = timesteps;
    }

    @Override
    public final int steps() {
        return timesteps.length;
    }

    @Override
    public final float timestep(int i) {
        return timesteps[i];
    }

    @Override
    public final float initNoiseSigma() {
        return 1f;
    }

    @Override
    public final void scaleInput(int i, float[] latents, float[] out, int offset) {
        Sampler.copy(latents, out, offset);
    }

    @Override
    public final void addNoise(int i, float[] latents, float[] noise) {
        float a = ac[timesteps[i]];
        float sa = (float) Math.sqrt(a);
        float sb = (float) Math.sqrt(1f - a);
        for (int e = 0; e < latents.length; e++) latents[e] = sa * latents[e] + sb * noise[e];
    }
}
