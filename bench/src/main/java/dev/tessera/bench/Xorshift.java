package dev.tessera.bench;

/** A fast deterministic generator of benchmark inputs: floats in [-range, range) (xorshift64). */
final class Xorshift {
    private long state;

    Xorshift(long seed) {
        state = seed == 0 ? 1 : seed;
    }

    void fill(float[] a, float range) {
        fill(a, 0, a.length, range);
    }

    void fill(float[] a, int off, int len, float range) {
        long s = state;
        for (int i = off, end = off + len; i < end; i++) {
            s ^= s << 13;
            s ^= s >>> 7;
            s ^= s << 17;
            a[i] = ((s >>> 40) * 0x1.0p-24f * 2f - 1f) * range;
        }
        state = s;
    }
}
