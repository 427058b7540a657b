package dev.tessera.scheduler.core;

/**
 * Which lane steps next when several have work: start-time fair queuing by measured step cost, with a starvation
 * bound counted in steps.
 *
 * <p>Each lane keeps a virtual time, advanced after each of its steps by the step's measured duration (divided by
 * the lane's weight; weights are equal today, so each busy lane gets an equal share of the compute threads). The
 * busy lane with the smallest virtual time goes next; a lane that becomes busy starts at the smallest virtual time
 * among the busy ones, so idle time is not banked. Whatever the costs, a busy lane never waits for more than
 * {@code maxWaitSteps} steps of other lanes in a row: a detection frame under continuous text load waits at most
 * that many text steps (plus the one already running when it arrived), and text tokens at most that many
 * detection steps.
 *
 * <p>Owned by the loop thread.
 */
public final class FairShare {
    private final int maxWaitSteps;
    private double[] vtime = new double[0];
    private int[] waited = new int[0];
    private boolean[] wasBusy = new boolean[0];

    /** @param maxWaitSteps the most consecutive steps of other lanes a busy lane waits, &gt;= 1 */
    public FairShare(int maxWaitSteps) {
        if (maxWaitSteps < 1) throw new IllegalArgumentException("maxWaitSteps must be >= 1, got " + maxWaitSteps);
        this.maxWaitSteps = maxWaitSteps;
    }

    public int maxWaitSteps() {
        return maxWaitSteps;
    }

    /**
     * Orders the busy lanes: who should step first, second...
     *
     * @param busy  which lanes have work
     * @param order receives lane indexes, best first
     * @return how many entries of {@code order} are set
     */
    public int order(boolean[] busy, int[] order) {
        ensure(busy.length);
        double min = Double.POSITIVE_INFINITY;
        for (int i = 0; i < busy.length; i++) {
            if (busy[i] && wasBusy[i]) min = Math.min(min, vtime[i]);
        }
        int n = 0;
        for (int i = 0; i < busy.length; i++) {
            if (!busy[i]) {
                wasBusy[i] = false;
                waited[i] = 0;
                continue;
            }
            if (!wasBusy[i]) {
                wasBusy[i] = true;
                if (min != Double.POSITIVE_INFINITY) vtime[i] = Math.max(vtime[i], min);
            }
            order[n++] = i;
        }
        // insertion sort: starved lanes first (longest wait first), then by virtual time, then by index
        for (int a = 1; a < n; a++) {
            int x = order[a];
            int b = a - 1;
            while (b >= 0 && before(x, order[b])) {
                order[b + 1] = order[b];
                b--;
            }
            order[b + 1] = x;
        }
        return n;
    }

    private boolean before(int x, int y) {
        boolean sx = waited[x] >= maxWaitSteps;
        boolean sy = waited[y] >= maxWaitSteps;
        if (sx != sy) return sx;
        if (sx) return waited[x] != waited[y] ? waited[x] > waited[y] : x < y;
        if (vtime[x] != vtime[y]) return vtime[x] < vtime[y];
        return x < y;
    }

    /**
     * Lane {@code ran} took a step costing {@code nanos}; every other lane in {@code busy} waited one step.
     */
    public void charge(int ran, long nanos, boolean[] busy) {
        ensure(busy.length);
        vtime[ran] += Math.max(1, nanos);
        waited[ran] = 0;
        for (int i = 0; i < busy.length; i++) {
            if (i != ran && busy[i]) waited[i]++;
        }
    }

    private void ensure(int lanes) {
        if (vtime.length >= lanes) return;
        vtime = java.util.Arrays.copyOf(vtime, lanes);
        waited = java.util.Arrays.copyOf(waited, lanes);
        wasBusy = java.util.Arrays.copyOf(wasBusy, lanes);
    }
}
