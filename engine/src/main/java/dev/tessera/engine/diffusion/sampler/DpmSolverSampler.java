package dev.tessera.engine.diffusion.sampler;

/**
 * diffusers' {@code DPMSolverMultistepScheduler} as DPM-Solver++(2M), midpoint: each model output converted to an x0
 * prediction, a first-order update on the first step (and the last, where the final sigma is zero or fewer than 15
 * steps run with {@code lower_order_final}), second-order updates from the two latest x0 predictions otherwise. With
 * Karras sigmas the timesteps are the rounded fractional timesteps of those sigmas.
 */
final class DpmSolverSampler implements Sampler {
    private final float[] timesteps;
    private final float[] sigmas;
    private final SchedulerSettings s;
    private float[] previous;
    private float[] current;
    private int lowerOrderNums;

    DpmSolverSampler(SchedulerSettings s, int steps, int elements) {
        this.s = s;
        float[] ac = NoiseSchedule.alphasCumprod(s.betas(), s.rescaleZeroSnr());
        if (s.rescaleZeroSnr()) ac[ac.length - 1] = (float) Math.pow(2, -24);
        float[] train = NoiseSchedule.sigmas(ac);
        int[] ts = Timesteps.dpm(s, steps);
        timesteps = new float[steps];
        sigmas = new float[steps + 1];
        if (s.karras()) {
            float[] logSigmas = new float[train.length];
            for (int i = 0; i < train.length; i++) logSigmas[i] = (float) Math.log(train[i]);
            double[] k = Timesteps.karras(train[0], train[train.length - 1], steps);
            for (int i = 0; i < steps; i++) {
                sigmas[i] = (float) k[i];
                timesteps[i] = (float) Timesteps.round(Timesteps.sigmaToT(k[i], logSigmas));
            }
        } else {
            for (int i = 0; i < steps; i++) {
                timesteps[i] = ts[i];
                sigmas[i] = (float) Timesteps.interp(ts[i], train);
            }
        }
        sigmas[steps] = s.finalSigmaZero() ? 0f : train[0];
        previous = new float[elements];
        current = new float[elements];
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
        return 1f;
    }

    @Override
    public void scaleInput(int i, float[] latents, float[] out, int offset) {
        Sampler.copy(latents, out, offset);
    }

    private static float alpha(float sigma) {
        return 1f / (float) Math.sqrt(sigma * sigma + 1f);
    }

    private static float lambda(float alpha, float sigmaT) {
        return (float) Math.log(alpha) - (float) Math.log(sigmaT);
    }

    @Override
    public void addNoise(int i, float[] latents, float[] noise) {
        float alphaT = alpha(sigmas[i]);
        float sigmaT = sigmas[i] * alphaT;
        for (int e = 0; e < latents.length; e++) latents[e] = alphaT * latents[e] + sigmaT * noise[e];
    }

    @Override
    public void step(int i, float[] modelOut, int offset, float[] latents, TorchGenerator generator) {
        int n = timesteps.length;
        boolean lowerFinal = i == n - 1 && (s.eulerAtFinal() || (s.lowerOrderFinal() && n < 15) || s.finalSigmaZero());
        boolean v = s.predictionType().equals("v_prediction");
        float alphaS0 = alpha(sigmas[i]);
        float sigmaS0 = sigmas[i] * alphaS0;
        float[] swap = previous;
        previous = current;
        current = swap;
        for (int e = 0; e < latents.length; e++) {
            float x = latents[e];
            float m = modelOut[offset + e];
            current[e] = v ? alphaS0 * x - sigmaS0 * m : (x - sigmaS0 * m) / alphaS0;
        }
        float alphaT = alpha(sigmas[i + 1]);
        float sigmaT = sigmas[i + 1] * alphaT;
        float lambdaT = lambda(alphaT, sigmaT);
        float lambdaS0 = lambda(alphaS0, sigmaS0);
        float h = lambdaT - lambdaS0;
        float ratio = sigmaT / sigmaS0;
        float coef = alphaT * ((float) Math.exp(-h) - 1f);
        if (lowerOrderNums < 1 || lowerFinal) {
            for (int e = 0; e < latents.length; e++) latents[e] = ratio * latents[e] - coef * current[e];
        } else {
            float alphaS1 = alpha(sigmas[i - 1]);
            float sigmaS1 = sigmas[i - 1] * alphaS1;
            float h0 = lambdaS0 - lambda(alphaS1, sigmaS1);
            float r0 = h0 / h;
            float inv = 1f / r0;
            float half = 0.5f * coef;
            for (int e = 0; e < latents.length; e++) {
                float d1 = inv * (current[e] - previous[e]);
                latents[e] = ratio * latents[e] - coef * current[e] - half * d1;
            }
        }
        if (lowerOrderNums < 2) lowerOrderNums++;
    }
}
