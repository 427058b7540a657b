package dev.tessera.engine.text.quant;

/**
 * Round-to-nearest block-wise quantization of fp32 weights into {@link QuantizedMatrix}, the layout of
 * {@code com.microsoft.MatMulNBits} (as onnxruntime's {@code MatMulNBitsQuantizer} writes it: codes packed low
 * bits first along K, one scale per block, zero points packed the same way).
 *
 * <p>Symmetric: {@code scale = max|w| / (2^(bits-1) - 1)} and {@code q = round(w / scale) + 2^(bits-1)}, so the
 * largest magnitude is exact and the code {@code 0} is unused. Asymmetric: the block's {@code [min, max]}, widened
 * to contain 0, maps onto {@code [0, 2^bits - 1]} with an integer zero point, so 0 stays exact (padding).
 * A tail block shorter than {@code blockSize} is padded with zeros.
 */
public final class BlockQuantizer {
    private BlockQuantizer() {
    }

    /** Quantizes {@code w}, row-major {@code [n, k]}. */
    public static QuantizedMatrix quantize(float[] w, int n, int k, WeightQuantization f) {
        if (!f.enabled()) throw new IllegalArgumentException("no quantization requested");
        if ((long) n * k != w.length) {
            throw new IllegalArgumentException("weight has " + w.length + " values, not " + n + " x " + k);
        }
        int bs = f.blockSize();
        int bits = f.bits();
        int kBlocks = (k + bs - 1) / bs;
        int blob = bs * bits / 8;
        int maxCode = (1 << bits) - 1;
        int mid = 1 << (bits - 1);
        byte[] q = new byte[n * kBlocks * blob];
        float[] scales = new float[n * kBlocks];
        int zpRow = (kBlocks * bits + 7) / 8;
        byte[] zps = f.symmetric() ? null : new byte[n * zpRow];
        for (int r = 0; r < n; r++) {
            int rowAt = r * k;
            for (int b = 0; b < kBlocks; b++) {
                int from = b * bs;
                int to = Math.min(k, from + bs);
                float scale;
                int zp;
                if (f.symmetric()) {
                    float amax = 0;
                    for (int i = from; i < to; i++) amax = Math.max(amax, Math.abs(w[rowAt + i]));
                    scale = amax / (mid - 1);
                    zp = mid;
                } else {
                    float min = 0;
                    float max = 0;
                    for (int i = from; i < to; i++) {
                        min = Math.min(min, w[rowAt + i]);
                        max = Math.max(max, w[rowAt + i]);
                    }
                    scale = (max - min) / maxCode;
                    zp = scale == 0 ? 0 : Math.max(0, Math.min(maxCode, Math.round(-min / scale)));
                }
                scales[r * kBlocks + b] = scale;
                float inv = scale == 0 ? 0 : 1f / scale;
                int blockAt = (r * kBlocks + b) * blob;
                for (int i = 0; i < bs; i++) {
                    float v = from + i < to ? w[rowAt + from + i] : 0f;
                    int code = Math.max(0, Math.min(maxCode, Math.round(v * inv) + zp));
                    pack(q, blockAt, i, code, bits);
                }
                if (zps != null) pack(zps, r * zpRow, b, zp, bits);
            }
        }
        return new QuantizedMatrix(f, n, k, q, scales, zps);
    }

    /** Element {@code i} of a packed run starting at byte {@code at}, low bits first. */
    static void pack(byte[] out, int at, int i, int code, int bits) {
        if (bits == 8) {
            out[at + i] = (byte) code;
        } else {
            int idx = at + i / 2;
            out[idx] = (byte) ((i & 1) == 0 ? (out[idx] & 0xF0) | code : (out[idx] & 0x0F) | (code << 4));
        }
    }

    /** The fp32 values {@code m} stands for, row-major {@code [n, k]} (for tests and error reports). */
    public static float[] dequantize(QuantizedMatrix m) {
        WeightQuantization f = m.format();
        int bits = f.bits();
        int bs = f.blockSize();
        int kBlocks = m.kBlocks();
        int blob = m.blobSize();
        int zpRow = m.zeroPointBytesPerRow();
        float[] out = new float[m.n() * m.k()];
        for (int r = 0; r < m.n(); r++) {
            for (int b = 0; b < kBlocks; b++) {
                int zp = m.zeroPoints() == null ? 1 << (bits - 1) : unpack(m.zeroPoints(), r * zpRow, b, bits);
                float scale = m.scales()[r * kBlocks + b];
                for (int i = 0; i < bs && b * bs + i < m.k(); i++) {
                    int code = unpack(m.q(), (r * kBlocks + b) * blob, i, bits);
                    out[r * m.k() + b * bs + i] = (code - zp) * scale;
                }
            }
        }
        return out;
    }

    private static int unpack(byte[] in, int at, int i, int bits) {
        if (bits == 8) return in[at + i] & 0xFF;
        int v = in[at + i / 2] & 0xFF;
        return (i & 1) == 0 ? v & 0x0F : v >>> 4;
    }
}
