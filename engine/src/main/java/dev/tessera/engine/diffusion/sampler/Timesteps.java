package dev.tessera.engine.diffusion.sampler;

/** Timestep spacings and sigma interpolation as diffusers' {@code set_timesteps} computes them with numpy. */
final class Timesteps {
    private Timesteps() {
    }

    /** {@code np.linspace(start, stop, num)} in double. */
    static double[] linspace(double start, double stop, int num) {
        double[] y = new double[num];
        if (num == 1) {
            y[0] = start;
            return y;
        }
        double step = (stop - start) / (num - 1);
        for (int i = 0; i < num; i++) y[i] = i * step + start;
        y[num - 1] = stop;
        return y;
    }

    /** {@code np.arange(start, stop, step)} (step < 0) in double. */
    static double[] arangeDown(double start, double stop, double step) {
        int n = (int) Math.ceil((stop - start) / step);
        double[] y = new double[Math.max(n, 0)];
        for (int i = 0; i < y.length; i++) y[i] = start + i * step;
        return y;
    }

    /** numpy's round half to even. */
    static double round(double v) {
        return Math.rint(v);
    }

    /** Euler's timesteps, float32: linspace, leading (+ offset) or trailing (− 1), from the highest. */
    static float[] euler(SchedulerSettings s, int steps) {
        int n = s.trainSteps();
        float[] t = new float[steps];
        switch (s.spacing()) {
            case "linspace" -> {
                double[] y = linspace(0, n - 1, steps);
                for (int i = 0; i < steps; i++) t[i] = (float) y[steps - 1 - i];
            }
            case "leading" -> {
                int ratio = n / steps;
                for (int i = 0; i < steps; i++) t[i] = (float) round((double) (steps - 1 - i) * ratio) + s.stepsOffset();
            }
            default -> {
                double[] y = arangeDown(n, 0, -(double) n / steps);
                if (y.length != steps) throw new IllegalArgumentException("trailing spacing gives " + y.length);
                for (int i = 0; i < steps; i++) t[i] = (float) round(y[i]) - 1;
            }
        }
        return t;
    }

    /** DDIM's integer timesteps. */
    static int[] ddim(SchedulerSettings s, int steps) {
        int n = s.trainSteps();
        int[] t = new int[steps];
        switch (s.spacing()) {
            case "linspace" -> {
                double[] y = linspace(0, n - 1, steps);
                for (int i = 0; i < steps; i++) t[i] = (int) round(y[steps - 1 - i]);
            }
            case "leading" -> {
                int ratio = n / steps;
                for (int i = 0; i < steps; i++) t[i] = (steps - 1 - i) * ratio + s.stepsOffset();
            }
            default -> {
                double[] y = arangeDown(n, 0, -(double) n / steps);
                for (int i = 0; i < steps; i++) t[i] = (int) round(y[i]) - 1;
            }
        }
        return t;
    }

    /** DPM-Solver's integer timesteps (before Karras sigmas replace them). */
    static int[] dpm(SchedulerSettings s, int steps) {
        int last = s.trainSteps();
        int[] t = new int[steps];
        switch (s.spacing()) {
            case "linspace" -> {
                double[] y = linspace(0, last - 1, steps + 1);
                for (int i = 0; i < steps; i++) t[i] = (int) round(y[steps - i]);
            }
            case "leading" -> {
                int ratio = last / (steps + 1);
                for (int i = 0; i < steps; i++) t[i] = (steps - i) * ratio + s.stepsOffset();
            }
            default -> {
                double[] y = arangeDown(last, 0, -(double) s.trainSteps() / steps);
                for (int i = 0; i < steps; i++) t[i] = (int) round(y[i]) - 1;
            }
        }
        return t;
    }

    /** {@code np.interp(x, arange(len(fp)), fp)}. */
    static double interp(double x, float[] fp) {
        if (x <= 0) return fp[0];
        if (x >= fp.length - 1) return fp[fp.length - 1];
        int j = (int) Math.floor(x);
        double slope = ((double) fp[j + 1] - fp[j]) / 1.0;
        return slope * (x - j) + fp[j];
    }

    /** diffusers' {@code _sigma_to_t}: a sigma's fractional training timestep, by log-sigma interpolation. */
    static double sigmaToT(double sigma, float[] logSigmas) {
        double logSigma = Math.log(Math.max(sigma, 1e-10));
        int low = 0;
        for (int i = 0; i < logSigmas.length; i++) {
            if (logSigma - logSigmas[i] >= 0) low = i;
        }
        low = Math.min(low, logSigmas.length - 2);
        int high = low + 1;
        double lo = logSigmas[low];
        double hi = logSigmas[high];
        double w = (lo - logSigma) / (lo - hi);
        w = Math.max(0, Math.min(1, w));
        return (1 - w) * low + w * high;
    }

    /** Karras et al.'s sigmas (ρ = 7) between the schedule's extremes, in double. */
    static double[] karras(double sigmaMin, double sigmaMax, int steps) {
        double[] ramp = linspace(0, 1, steps);
        double minInv = Math.pow(sigmaMin, 1 / 7.0);
        double maxInv = Math.pow(sigmaMax, 1 / 7.0);
        double[] out = new double[steps];
        for (int i = 0; i < steps; i++) out[i] = Math.pow(maxInv + ramp[i] * (minInv - maxInv), 7);
        return out;
    }
}
