package dev.tessera.engine.diffusion.sampler;

/**
 * torch's CPU generator ({@code torch.Generator().manual_seed(seed)}): a 32-bit Mersenne Twister seeded with the low
 * 32 bits of the seed, and {@link #randn} as {@code torch.randn(shape, generator=g)} draws float32 values, so that a
 * seed gives the initial latents and ancestral noise diffusers and ComfyUI give.
 *
 * <p>{@code randn} of 16 values or more fills uniforms {@code (u & (2²⁴−1))·2⁻²⁴} from 32-bit draws, then applies
 * Box-Muller to each block of 16 (the first 8 as {@code 1 − u} radii, the last 8 as angles; a tail shorter than 16
 * redraws the last 16 values). Fewer than 16 values take the double-precision path: 53-bit uniforms from two draws,
 * one pair per two values ({@code log1p}), the sine half kept for the next call as torch caches it. torch's AVX2
 * build computes the 16-value transform with vectorised log/sin/cos, so values can differ from this one in the last
 * bit or two of float32.
 *
 * <p>Not thread-safe: one generator per job.
 */
public final class TorchGenerator {
    private static final int N = 624;
    private static final int M = 397;
    private final int[] mt = new int[N];
    private int index;
    private double nextNormal;
    private boolean hasNextNormal;

    public TorchGenerator(long seed) {
        mt[0] = (int) seed;
        for (int i = 1; i < N; i++) {
            mt[i] = 1812433253 * (mt[i - 1] ^ (mt[i - 1] >>> 30)) + i;
        }
        index = N;
    }

    /** The next 32-bit output, unsigned in a long. */
    long next32() {
        if (index >= N) twist();
        int y = mt[index++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y & 0xffffffffL;
    }

    private void twist() {
        for (int i = 0; i < N; i++) {
            int y = (mt[i] & 0x80000000) | (mt[(i + 1) % N] & 0x7fffffff);
            int v = mt[(i + M) % N] ^ (y >>> 1);
            if ((y & 1) != 0) v ^= 0x9908b0df;
            mt[i] = v;
        }
        index = 0;
    }

    private float uniformFloat() {
        return (next32() & ((1 << 24) - 1)) * (1.0f / (1 << 24));
    }

    private double uniformDouble() {
        long hi = next32();
        long lo = next32();
        long v = (hi << 32) | lo;
        return (v & ((1L << 53) - 1)) * (1.0 / (1L << 53));
    }

    /** Fills {@code out} as {@code torch.randn(out.length, generator=this)} does (float32, mean 0, std 1). */
    public void randn(float[] out) {
        randn(out, 0, out.length);
    }

    /** Fills {@code out[from, from + n)} as one {@code torch.randn} call of {@code n} values. */
    public void randn(float[] out, int from, int n) {
        if (n >= 16) {
            for (int i = 0; i < n; i++) out[from + i] = uniformFloat();
            for (int i = 0; i + 16 <= n; i += 16) boxMuller16(out, from + i);
            if (n % 16 != 0) {
                int at = from + n - 16;
                for (int i = 0; i < 16; i++) out[at + i] = uniformFloat();
                boxMuller16(out, at);
            }
            return;
        }
        for (int i = 0; i < n; i++) out[from + i] = (float) normalDouble();
    }

    private static void boxMuller16(float[] d, int at) {
        for (int j = 0; j < 8; j++) {
            float u1 = 1 - d[at + j];
            float u2 = d[at + j + 8];
            float radius = (float) Math.sqrt(-2 * (float) Math.log(u1));
            float theta = (float) (2.0f * Math.PI * u2);
            d[at + j] = (float) (radius * (float) Math.cos(theta));
            d[at + j + 8] = (float) (radius * (float) Math.sin(theta));
        }
    }

    private double normalDouble() {
        if (hasNextNormal) {
            hasNextNormal = false;
            return nextNormal;
        }
        double u1 = uniformDouble();
        double u2 = uniformDouble();
        double r = Math.sqrt(-2.0 * Math.log1p(-u2));
        double theta = 2.0 * Math.PI * u1;
        nextNormal = r * Math.sin(theta);
        hasNextNormal = true;
        return r * Math.cos(theta);
    }
}
