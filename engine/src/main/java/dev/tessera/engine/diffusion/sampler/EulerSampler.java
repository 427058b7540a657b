package dev.tessera.engine.diffusion.sampler;

/**
 * diffusers' {@code EulerDiscreteScheduler} (no churn) and, with {@code ancestral}, {@code
 * EulerAncestralDiscreteScheduler}: sigmas interpolated at the timesteps, the input divided by √(σ²+1), then an
 * Euler step to the next sigma (the ancestral one steps to σ_down and adds σ_up of fresh noise). Float32 throughout,
 * in diffusers' order of operations.
 */
final class EulerSampler implements Sampler {
    private final float[] timesteps;
    private final float[] sigmas;
    private final boolean vPrediction;
    private final boolean ancestral;
    private final float initNoiseSigma;
    private final float[] noise;

    EulerSampler(SchedulerSettings s, int steps, int elements, boolean ancestral) {
        this.ancestral = ancestral;
        this.vPrediction = s.predictionType().equals("v_prediction");
        float[] ac = NoiseSchedule.alphasCumprod(s.betas(), s.rescaleZeroSnr());
        if (s.rescaleZeroSnr()) ac[ac.length - 1] = (float) Math.pow(2, -24);
        float[] train = NoiseSchedule.sigmas(ac);
        timesteps = Timesteps.euler(s, steps);
        sigmas = new float[steps + 1];
        for (int i = 0; i < steps; i++) sigmas[i] = (float) Timesteps.interp(timesteps[i], train);
        sigmas[steps] = ancestral || s.finalSigmaZero() ? 0f : train[0];
        float max = 0;
        for (float v : sigmas) max = Math.max(max, v);
        initNoiseSigma = s.spacing().equals("leading") ? (float) Math.sqrt(max * max + 1f) : max;
        noise = ancestral ? new float[elements] : new float[0];
    }

    @Override
    public int steps() {
        return timesteps.length;
    }

    @Override
    public float timestep(int i) {
        return timesteps[i];
    }

    @Override
    public float initNoiseSigma() {
        return initNoiseSigma;
    }

    @Override
    public void scaleInput(int i, float[] latents, float[] out, int offset) {
        float sigma = sigmas[i];
        float div = (float) Math.sqrt(sigma * sigma + 1f);
        for (int e = 0; e < latents.length; e++) out[offset + e] = latents[e] / div;
    }

    @Override
    public void addNoise(int i, float[] latents, float[] noise) {
        float sigma = sigmas[i];
        for (int e = 0; e < latents.length; e++) latents[e] = latents[e] + noise[e] * sigma;
    }

    @Override
    public void step(int i, float[] modelOut, int offset, float[] latents, TorchGenerator generator) {
        float sigma = sigmas[i];
        float next = sigmas[i + 1];
        float vScale = -sigma / (float) Math.sqrt(sigma * sigma + 1f);
        float vDiv = sigma * sigma + 1f;
        if (!ancestral) {
            float dt = next - sigma;
            for (int e = 0; e < latents.length; e++) {
                float x = latents[e];
                float m = modelOut[offset + e];
                float x0 = vPrediction ? m * vScale + x / vDiv : x - sigma * m;
                float d = (x - x0) / sigma;
                latents[e] = x + d * dt;
            }
            return;
        }
        float up = (float) Math.sqrt(next * next * (sigma * sigma - next * next) / (sigma * sigma));
        float down = (float) Math.sqrt(next * next - up * up);
        float dt = down - sigma;
        generator.randn(noise);
        for (int e = 0; e < latents.length; e++) {
            float x = latents[e];
            float m = modelOut[offset + e];
            float x0 = vPrediction ? m * vScale + x / vDiv : x - sigma * m;
            float d = (x - x0) / sigma;
            latents[e] = (x + d * dt) + noise[e] * up;
        }
    }
}
