package dev.tessera.engine.diffusion.sampler;

/**
 * One job's sampler: its timesteps, the scaling of its model input, and its update, equal to the diffusers scheduler
 * of its {@link SamplerKind} set to the same number of steps. Holds the job's state between steps (the previous
 * model output of a multistep solver, the noise buffer of an ancestral one); buffers are sized once for the job's
 * latents. Not thread-safe; steps run in order {@code 0 … steps() − 1}.
 */
public interface Sampler {
    /** Denoising steps. */
    int steps();

    /** The timestep the denoiser sees at step {@code i}. */
    float timestep(int i);

    /** What the initial unit-variance noise is multiplied by ({@code init_noise_sigma}). */
    float initNoiseSigma();

    /**
     * Writes step {@code i}'s model input ({@code scale_model_input}) for {@code latents} to
     * {@code out[offset, offset + latents.length)}.
     */
    void scaleInput(int i, float[] latents, float[] out, int offset);

    /**
     * Advances {@code latents} in place with step {@code i}'s (guided) model output {@code modelOut[offset, offset +
     * latents.length)}; stochastic samplers draw their noise from {@code generator}, shaped as the job's latents.
     */
    void step(int i, float[] modelOut, int offset, float[] latents, TorchGenerator generator);

    /**
     * Noises clean latents in place to the noise level of step {@code i}, as the scheduler's {@code add_noise} does
     * for image-to-image ({@code noise} shaped as the latents).
     */
    void addNoise(int i, float[] latents, float[] noise);

    /**
     * The step image-to-image starts at for {@code strength} in (0, 1], as diffusers' {@code get_timesteps}: the
     * last {@code int(steps × strength)} steps run.
     */
    static int startStep(int steps, double strength) {
        int init = Math.min((int) (steps * strength), steps);
        return Math.max(steps - init, 0);
    }

    /** A sampler that passes the latents through unscaled. */
    static void copy(float[] latents, float[] out, int offset) {
        System.arraycopy(latents, 0, out, offset, latents.length);
    }
}
