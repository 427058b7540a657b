package dev.tessera.engine.diffusion.sampler;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The training noise schedule, in float32 as diffusers builds it with torch: {@code linspace} betas (start + step·i
 * below the midpoint, end − step·(n−1−i) from it), {@code scaled_linear} as the squares of a linspace of square roots,
 * {@code squaredcos_cap_v2} from the cosine ᾱ(t) in double; the optional zero-terminal-SNR rescale; ᾱ as a cumulative
 * product accumulated in double and stored in float (torch's CPU {@code cumprod}).
 */
public final class NoiseSchedule {
    private NoiseSchedule() {
    }

    static float[] betas(SchedulerSettings.Reader r, String schedule, double start, double end, int n) {
        JsonNode trained = r.node("trained_betas");
        if (trained != null) {
            if (!trained.isArray() || trained.size() != n) {
                throw r.unsupported("trained_betas", "a list of num_train_timesteps numbers");
            }
            float[] b = new float[n];
            for (int i = 0; i < n; i++) b[i] = (float) trained.get(i).asDouble();
            return b;
        }
        switch (schedule) {
            case "linear":
                return linspace((float) start, (float) end, n);
            case "scaled_linear": {
                float[] b = linspace((float) Math.sqrt(start), (float) Math.sqrt(end), n);
                for (int i = 0; i < n; i++) b[i] = b[i] * b[i];
                return b;
            }
            case "squaredcos_cap_v2": {
                float[] b = new float[n];
                for (int i = 0; i < n; i++) {
                    double t1 = (double) i / n;
                    double t2 = (double) (i + 1) / n;
                    b[i] = (float) Math.min(1 - alphaBar(t2) / alphaBar(t1), 0.999);
                }
                return b;
            }
            default:
                throw r.unsupported("beta_schedule", "linear, scaled_linear or squaredcos_cap_v2");
        }
    }

    private static double alphaBar(double t) {
        double c = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    /** torch.linspace(start, end, n, dtype=float32). */
    static float[] linspace(float start, float end, int n) {
        float[] out = new float[n];
        if (n == 1) {
            out[0] = start;
            return out;
        }
        float step = (end - start) / (n - 1);
        int half = n / 2;
        for (int i = 0; i < n; i++) out[i] = i < half ? start + step * i : end - step * (n - i - 1);
        return out;
    }

    /** ᾱ_t for every training timestep; with {@code rescaleZeroSnr}, the betas are rescaled first. */
    public static float[] alphasCumprod(float[] betas, boolean rescaleZeroSnr) {
        float[] b = rescaleZeroSnr ? rescaleZeroTerminalSnr(betas) : betas;
        float[] alphas = new float[b.length];
        for (int i = 0; i < b.length; i++) alphas[i] = 1f - b[i];
        return cumprod(alphas);
    }

    private static float[] cumprod(float[] x) {
        float[] out = new float[x.length];
        double acc = 1;
        for (int i = 0; i < x.length; i++) {
            acc *= x[i];
            out[i] = (float) acc;
        }
        return out;
    }

    /** diffusers' {@code rescale_zero_terminal_snr}, in float32. */
    static float[] rescaleZeroTerminalSnr(float[] betas) {
        int n = betas.length;
        float[] alphas = new float[n];
        for (int i = 0; i < n; i++) alphas[i] = 1f - betas[i];
        float[] sqrt = cumprod(alphas);
        for (int i = 0; i < n; i++) sqrt[i] = (float) Math.sqrt(sqrt[i]);
        float first = sqrt[0];
        float last = sqrt[n - 1];
        float scale = first / (first - last);
        for (int i = 0; i < n; i++) {
            sqrt[i] -= last;
            sqrt[i] *= scale;
        }
        float[] bar = new float[n];
        for (int i = 0; i < n; i++) bar[i] = sqrt[i] * sqrt[i];
        float[] out = new float[n];
        out[0] = 1f - bar[0];
        for (int i = 1; i < n; i++) out[i] = 1f - bar[i] / bar[i - 1];
        return out;
    }

    /** {@code ((1 − ᾱ) / ᾱ) ** 0.5} per training timestep, float32. */
    static float[] sigmas(float[] alphasCumprod) {
        float[] s = new float[alphasCumprod.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = (float) Math.sqrt((1f - alphasCumprod[i]) / alphasCumprod[i]);
        }
        return s;
    }
}
