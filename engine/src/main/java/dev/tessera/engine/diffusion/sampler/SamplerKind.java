package dev.tessera.engine.diffusion.sampler;

import java.util.Locale;
import java.util.Optional;

/** The samplers this engine runs, by their API names, each equal to a diffusers scheduler class. */
public enum SamplerKind {
    /** {@code EulerDiscreteScheduler}. */
    EULER("euler"),
    /** {@code EulerAncestralDiscreteScheduler}: fresh noise from the job's generator at every step. */
    EULER_ANCESTRAL("euler_a"),
    /** {@code DDIMScheduler} with η = 0. */
    DDIM("ddim"),
    /** {@code DPMSolverMultistepScheduler}, {@code dpmsolver++}, order 2. */
    DPMPP_2M("dpmpp_2m"),
    /** The same with {@code use_karras_sigmas=True}. */
    DPMPP_2M_KARRAS("dpmpp_2m_karras"),
    /** {@code LCMScheduler}. */
    LCM("lcm");

    public final String apiName;

    SamplerKind(String apiName) {
        this.apiName = apiName;
    }

    public static Optional<SamplerKind> byName(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        for (SamplerKind k : values()) {
            if (k.apiName.equals(n)) return Optional.of(k);
        }
        return Optional.empty();
    }
}
