package dev.tessera.engine.diffusion.sampler;

/**
 * diffusers' {@code FlowMatchEulerDiscreteScheduler} (static shift, deterministic): the shifted sigmas of training,
 * a linspace between their extremes, shifted again as diffusers does, and {@code x + (σ_next − σ)·v}. The sampler of
 * SD3 and FLUX; this engine's UNets do not use it, it is tested on its own.
 */
public final class FlowMatchEulerSampler {
    private final float[] timesteps;
    private final float[] sigmas;

    public FlowMatchEulerSampler(int trainSteps, double shift, int steps) {
        float[] train = new float[trainSteps];
        for (int i = 0; i < trainSteps; i++) {
            float t = (float) (trainSteps - i); // linspace(1, N, N)[::-1], float32
            float sg = t / trainSteps;
            train[i] = (float) (shift * sg / (1 + (shift - 1) * sg));
        }
        double max = train[0];
        double min = train[trainSteps - 1];
        double[] t = Timesteps.linspace(max * trainSteps, min * trainSteps, steps);
        timesteps = new float[steps];
        sigmas = new float[steps + 1];
        for (int i = 0; i < steps; i++) {
            double sg = t[i] / trainSteps;
            sg = shift * sg / (1 + (shift - 1) * sg);
            sigmas[i] = (float) sg;
            timesteps[i] = sigmas[i] * trainSteps;
        }
        sigmas[steps] = 0f;
    }

    public int steps() {
        return timesteps.length;
    }

    public float timestep(int i) {
        return timesteps[i];
    }

    public float sigma(int i) {
        return sigmas[i];
    }

    /** {@code x ← x + (σ_{i+1} − σ_i)·v}. */
    public void step(int i, float[] velocity, float[] latents) {
        float dt = sigmas[i + 1] - sigmas[i];
        for (int e = 0; e < latents.length; e++) latents[e] = latents[e] + dt * velocity[e];
    }
}
