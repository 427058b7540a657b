package dev.tessera.engine.diffusion.sampler;

/** Creates a job's {@link Sampler} from the pipeline's scheduler settings. */
public final class Samplers {
    private Samplers() {
    }

    /**
     * A sampler of {@code settings.kind()} set to {@code steps} steps, for latents of {@code elements} values.
     *
     * @throws IllegalArgumentException when {@code steps} is out of the sampler's range
     */
    public static Sampler create(SchedulerSettings settings, int steps, int elements) {
        if (steps < 1 || steps > settings.trainSteps()) {
            throw new IllegalArgumentException("steps must be in [1, " + settings.trainSteps() + "], not " + steps);
        }
        return switch (settings.kind()) {
            case EULER -> new EulerSampler(settings, steps, elements, false);
            case EULER_ANCESTRAL -> new EulerSampler(settings, steps, elements, true);
            case DDIM -> new DdimSampler(settings, steps);
            case DPMPP_2M, DPMPP_2M_KARRAS -> new DpmSolverSampler(settings, steps, elements);
            case LCM -> new LcmSampler(settings, steps, elements);
        };
    }
}
