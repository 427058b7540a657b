package dev.tessera.loadtest.sweep;

/**
 * The knee of a throughput curve (achieved against offered rate): the point farthest above the chord from the
 * first point to the last, on axes scaled to [0, 1] (Kneedle); past it, more offered load buys little throughput.
 * None (-1) with fewer than three points, or when no point lies at least {@value #MIN_BEND} above the chord: the
 * throughput still follows the offered rate, and the sweep should go higher.
 */
public final class Knee {
    /** How far above the chord (on the unit-scaled axes) a point must lie to be a knee. */
    static final double MIN_BEND = 0.05;

    private Knee() {
    }

    /** The index of the knee of {@code y} against {@code x} (x ascending), or -1 for no point. */
    public static int of(double[] x, double[] y) {
        int n = x.length;
        if (n < 3) return -1;
        double x0 = x[0];
        double xs = x[n - 1] - x0;
        double y0 = Double.POSITIVE_INFINITY;
        double y1 = Double.NEGATIVE_INFINITY;
        for (double v : y) {
            y0 = Math.min(y0, v);
            y1 = Math.max(y1, v);
        }
        double ys = y1 - y0;
        if (!(xs > 0) || !(ys > 0)) return -1;
        double first = (y[0] - y0) / ys;
        double last = (y[n - 1] - y0) / ys;
        int knee = -1;
        double most = MIN_BEND;
        for (int i = 0; i < n; i++) {
            double u = (x[i] - x0) / xs;
            double v = (y[i] - y0) / ys;
            double above = v - (first + (last - first) * u);
            if (above > most) {
                most = above;
                knee = i;
            }
        }
        return knee;
    }
}
