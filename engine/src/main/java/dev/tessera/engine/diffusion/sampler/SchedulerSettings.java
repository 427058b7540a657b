package dev.tessera.engine.diffusion.sampler;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.engine.checkpoint.CheckpointException;
import org.jspecify.annotations.Nullable;

import java.nio.file.Path;

/**
 * A pipeline's {@code scheduler/scheduler_config.json} as one sampler reads it, like diffusers'
 * {@code SamplerClass.from_config(config)}: keys present in the file win, absent keys take that sampler class's
 * defaults (so DDIM clips its x0 prediction unless the file says {@code clip_sample: false}, and Euler spaces its
 * timesteps {@code linspace} unless the file names a spacing). Values this engine does not implement are refused
 * naming the file and key.
 */
public record SchedulerSettings(SamplerKind kind, int trainSteps, float[] betas, String predictionType,
                                String spacing, int stepsOffset, boolean rescaleZeroSnr, boolean clipSample,
                                float clipRange, boolean setAlphaToOne, boolean karras, boolean finalSigmaZero,
                                boolean lowerOrderFinal, boolean eulerAtFinal, int originalSteps,
                                float timestepScaling) {
    /** Reads {@code config} (the file's JSON, {@code file} for messages) for {@code kind}. */
    public static SchedulerSettings read(JsonNode config, Path file, SamplerKind kind) {
        boolean lcm = kind == SamplerKind.LCM;
        boolean dpm = kind == SamplerKind.DPMPP_2M || kind == SamplerKind.DPMPP_2M_KARRAS;
        Reader r = new Reader(config, file);
        int trainSteps = r.integer("num_train_timesteps", 1000);
        double betaStart = r.number("beta_start", lcm ? 0.00085 : 0.0001);
        double betaEnd = r.number("beta_end", lcm ? 0.012 : 0.02);
        String schedule = r.string("beta_schedule", lcm ? "scaled_linear" : "linear");
        float[] betas = NoiseSchedule.betas(r, schedule, betaStart, betaEnd, trainSteps);
        String prediction = r.string("prediction_type", "epsilon");
        if (!prediction.equals("epsilon") && !prediction.equals("v_prediction")) {
            throw r.unsupported("prediction_type", "epsilon or v_prediction");
        }
        String spacing = r.string("timestep_spacing",
                kind == SamplerKind.DDIM || lcm ? "leading" : "linspace");
        if (!spacing.equals("linspace") && !spacing.equals("leading") && !spacing.equals("trailing")) {
            throw r.unsupported("timestep_spacing", "linspace, leading or trailing");
        }
        if (r.bool("thresholding", false)) throw r.unsupported("thresholding", "false");
        if (kind == SamplerKind.EULER || kind == SamplerKind.EULER_ANCESTRAL) {
            if (!r.string("interpolation_type", "linear").equals("linear")) {
                throw r.unsupported("interpolation_type", "linear");
            }
            if (!r.string("timestep_type", "discrete").equals("discrete")) {
                throw r.unsupported("timestep_type", "discrete");
            }
            if (r.has("sigma_min") || r.has("sigma_max")) throw r.unsupported("sigma_min", "absent");
        }
        if (kind == SamplerKind.EULER && r.bool("use_karras_sigmas", false)) {
            throw r.unsupported("use_karras_sigmas", "false for euler (use dpmpp_2m_karras)");
        }
        for (String key : new String[] {"use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas",
                "use_flow_sigmas", "use_dynamic_shifting"}) {
            if (r.bool(key, false)) throw r.unsupported(key, "false");
        }
        if (dpm) {
            if (!r.string("algorithm_type", "dpmsolver++").equals("dpmsolver++")) {
                throw r.unsupported("algorithm_type", "dpmsolver++");
            }
            if (!r.string("solver_type", "midpoint").equals("midpoint")) throw r.unsupported("solver_type", "midpoint");
            if (r.integer("solver_order", 2) != 2) throw r.unsupported("solver_order", "2");
            if (r.has("lambda_min_clipped") && r.number("lambda_min_clipped", 0) != Double.NEGATIVE_INFINITY) {
                throw r.unsupported("lambda_min_clipped", "absent");
            }
            if (r.has("variance_type")) throw r.unsupported("variance_type", "absent");
        }
        String finalSigmas = r.string("final_sigmas_type", "zero");
        if (!finalSigmas.equals("zero") && !finalSigmas.equals("sigma_min")) {
            throw r.unsupported("final_sigmas_type", "zero or sigma_min");
        }
        return new SchedulerSettings(kind, trainSteps, betas, prediction, spacing, r.integer("steps_offset", 0),
                r.bool("rescale_betas_zero_snr", false), r.bool("clip_sample", kind == SamplerKind.DDIM),
                (float) r.number("clip_sample_range", 1.0), r.bool("set_alpha_to_one", true),
                kind == SamplerKind.DPMPP_2M_KARRAS || (dpm && r.bool("use_karras_sigmas", false)),
                finalSigmas.equals("zero"), r.bool("lower_order_final", true), r.bool("euler_at_final", false),
                r.integer("original_inference_steps", 50), (float) r.number("timestep_scaling", 10.0));
    }

    /** Typed reads of the config with defaults; errors name the file and key. */
    record Reader(JsonNode root, Path file) {
        boolean has(String key) {
            return root.hasNonNull(key);
        }

        int integer(String key, int dflt) {
            JsonNode n = root.get(key);
            if (n == null || n.isNull()) return dflt;
            if (!n.isIntegralNumber()) throw bad(key, "an integer");
            return n.asInt();
        }

        double number(String key, double dflt) {
            JsonNode n = root.get(key);
            if (n == null || n.isNull()) return dflt;
            if (!n.isNumber()) throw bad(key, "a number");
            return n.asDouble();
        }

        boolean bool(String key, boolean dflt) {
            JsonNode n = root.get(key);
            if (n == null || n.isNull()) return dflt;
            if (!n.isBoolean()) throw bad(key, "true or false");
            return n.asBoolean();
        }

        String string(String key, String dflt) {
            JsonNode n = root.get(key);
            if (n == null || n.isNull()) return dflt;
            if (!n.isTextual()) throw bad(key, "a string");
            return n.asText();
        }

        @Nullable JsonNode node(String key) {
            JsonNode n = root.get(key);
            return n == null || n.isNull() ? null : n;
        }

        CheckpointException unsupported(String key, String supported) {
            return new CheckpointException(file, null, "unsupported " + key + " = " + root.get(key)
                    + " (supported: " + supported + ")");
        }

        private CheckpointException bad(String key, String expected) {
            return new CheckpointException(file, null, key + " must be " + expected + ", not " + root.get(key));
        }
    }
}
