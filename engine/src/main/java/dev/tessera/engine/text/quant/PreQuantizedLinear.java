package dev.tessera.engine.text.quant;

import org.jspecify.annotations.Nullable;

import java.util.Arrays;
import java.util.List;

/**
 * Repacks one pre-quantized linear layer (GPTQ or AWQ GEMM) into {@link QuantizedMatrix}, MatMulNBits' layout, bit for
 * bit: the same integer codes, the same fp16/bf16 scales (widened to fp32, exactly) and the same zero points, so
 * MatMulNBits' {@code (q - zp) * scale} is the checkpoint's own dequantization formula with no rounding in between.
 *
 * <p>Written by hand because no Java library reads these layouts. The layouts followed are GPT-QModel 7.7's (the
 * library transformers 5 loads both formats with):
 * <ul>
 *   <li><b>GPTQ</b> ({@code PackableQuantLinear.pack_original} / {@code dequantize_weight}): {@code qweight} int32
 *       {@code [ceil(in * bits / 32), out]}, input {@code i}'s code at bits {@code bits * (i % (32 / bits))} of row
 *       {@code i / (32 / bits)}; {@code qzeros} int32 {@code [groups, ceil(out * bits / 32)]} packed the same way
 *       along the outputs; {@code scales} {@code [groups, out]}; {@code g_idx} int32 {@code [in]}, input i's group.
 *       {@code w[o][i] = scales[g_idx[i]][o] * (q[i][o] - zero[g_idx[i]][o])}. The v1 checkpoint format stores the
 *       zero points minus one by subtracting {@code 0x11111111} (4 bits) from each packed word, borrows included;
 *       gptqmodel's {@code convert_gptq_v1_to_v2_format_module} undoes it by adding the same word, and so does this.
 *   <li><b>AWQ GEMM</b> ({@code quantization/awq/utils/packing_utils.py}: {@code pack_awq}, {@code dequantize_gemm}):
 *       {@code qweight} int32 {@code [in, out / 8]} packed along the outputs, the eight codes of outputs
 *       {@code 8j .. 8j+7} in the order {@code [0, 2, 4, 6, 1, 3, 5, 7]} (nibble {@code s} holds output
 *       {@code 8j + ORDER[s]}); {@code qzeros} {@code [groups, out / 8]} the same; {@code scales}
 *       {@code [groups, out]};
 *       groups are consecutive runs of {@code group_size} inputs. {@code w[o][i] = (q - zero) * scale}.
 * </ul>
 *
 * <p><b>Act-order</b> ({@code desc_act}, a {@code g_idx} that is not non-decreasing): MatMulNBits can take
 * {@code g_idx} itself, but ONNX Runtime's CPU kernel ({@code contrib_ops/cpu/quantization/matmul_nbits.cc}) then
 * skips {@code PrePack}, so {@code Compute} falls back to {@code ComputeBUnpacked}: a naive, 4-bit-only
 * dequantization of all of B to fp32 on every call, then an fp32 GEMM. Instead the inputs are reordered: with
 * {@code P} the stable sort of the inputs by group, every block of the reordered weight lies in one group, and
 * {@code x W^T = x[:, P] (W[:, P])^T} exactly (a permutation only moves values). {@link Repacked#inputOrder()} is
 * {@code P}, for a {@code Gather} of the activations; the layer is refused if some block would straddle two groups.
 *
 * <p>Group sizes: 32, 64 and 128 map to MatMulNBits blocks of the same size; -1 (one group) and multiples of 128 use
 * blocks of 128 with each group's scale and zero point repeated over its blocks, which is exact.
 */
public final class PreQuantizedLinear {
    /** AWQ's interleave: nibble s of a packed word holds output {@code 8j + AWQ_ORDER[s]}. */
    static final int[] AWQ_ORDER = {0, 2, 4, 6, 1, 3, 5, 7};

    private PreQuantizedLinear() {
    }

    /**
     * A layer in MatMulNBits' layout.
     *
     * @param inputOrder the order of the inputs the codes are stored in ({@code x[:, inputOrder]} is the input), or
     *                   null for the natural order
     */
    public record Repacked(QuantizedMatrix matrix, int @Nullable [] inputOrder) {
    }

    /** The MatMulNBits block size for a group size, or -1 if none is exact (see the class comment). */
    public static int blockSizeFor(int groupSize) {
        if (groupSize == 32 || groupSize == 64 || groupSize == 128) return groupSize;
        if (groupSize == -1 || (groupSize > 0 && groupSize % 128 == 0)) return 128;
        return -1;
    }

    /**
     * Repacks a GPTQ layer of {@code n} outputs and {@code k} inputs.
     *
     * @param gIdx {@code [k]} group of each input, or null for {@code i / group_size}
     * @throws IllegalArgumentException naming the tensor ({@code qweight}, {@code qzeros}, {@code scales},
     *                                  {@code g_idx}) that does not fit
     */
    public static Repacked gptq(int[] qweight, int[] qzeros, float[] scales, int @Nullable [] gIdx, int n, int k,
                                CheckpointQuantization c) {
        int bits = c.bits();
        int perWord = 32 / bits;
        int mask = (1 << bits) - 1;
        int groups = groups(k, c.groupSize());
        int zeroWords = (n + perWord - 1) / perWord;
        check("qweight", qweight.length, (long) ((k + perWord - 1) / perWord) * n);
        check("qzeros", qzeros.length, (long) groups * zeroWords);
        check("scales", scales.length, (long) groups * n);
        byte[] codes = new byte[n * k]; // [n, k], the natural input order
        for (int i = 0; i < k; i++) {
            int row = (i / perWord) * n;
            int shift = bits * (i % perWord);
            for (int o = 0; o < n; o++) codes[o * k + i] = (byte) ((qweight[row + o] >>> shift) & mask);
        }
        int v1 = 0; // the word the v1 format subtracted: a one in every field
        if (c.zeroMinusOne()) for (int j = 0; j < perWord; j++) v1 |= 1 << (bits * j);
        int[] zeros = new int[groups * n];
        for (int g = 0; g < groups; g++) {
            for (int o = 0; o < n; o++) {
                int word = qzeros[g * zeroWords + o / perWord] + v1; // wraps mod 2^32, as torch's int32 add
                zeros[g * n + o] = (word >>> (bits * (o % perWord))) & mask;
            }
        }
        int[] group = gIdx != null ? gIdx : naturalGroups(k, c.groupSize());
        check("g_idx", group.length, k);
        for (int i = 0; i < k; i++) {
            if (group[i] < 0 || group[i] >= groups) {
                throw new IllegalArgumentException("g_idx[" + i + "] = " + group[i] + " is outside [0, " + groups
                        + ")");
            }
        }
        return assemble(codes, zeros, scales, group, n, k, c);
    }

    /** Repacks an AWQ GEMM layer of {@code n} outputs and {@code k} inputs (4 bits, {@code n % 8 == 0}). */
    public static Repacked awq(int[] qweight, int[] qzeros, float[] scales, int n, int k, CheckpointQuantization c) {
        if (c.bits() != 4) throw new IllegalArgumentException("AWQ GEMM is read at 4 bits, not " + c.bits());
        if (n % 8 != 0) throw new IllegalArgumentException("AWQ GEMM needs out_features % 8 == 0, got " + n);
        int groups = groups(k, c.groupSize());
        int words = n / 8;
        check("qweight", qweight.length, (long) k * words);
        check("qzeros", qzeros.length, (long) groups * words);
        check("scales", scales.length, (long) groups * n);
        byte[] codes = new byte[n * k];
        for (int i = 0; i < k; i++) {
            for (int w = 0; w < words; w++) {
                int word = qweight[i * words + w];
                for (int s = 0; s < 8; s++) codes[(8 * w + AWQ_ORDER[s]) * k + i] = (byte) ((word >>> (4 * s)) & 15);
            }
        }
        int[] zeros = new int[groups * n];
        for (int g = 0; g < groups; g++) {
            for (int w = 0; w < words; w++) {
                int word = qzeros[g * words + w];
                for (int s = 0; s < 8; s++) zeros[g * n + 8 * w + AWQ_ORDER[s]] = (word >>> (4 * s)) & 15;
            }
        }
        return assemble(codes, zeros, scales, naturalGroups(k, c.groupSize()), n, k, c);
    }

    /**
     * The row-wise concatenation of layers sharing one input (q/k/v, gate/up), for one fused MatMulNBits.
     *
     * @throws IllegalArgumentException if their input orders (act-order {@code g_idx}) differ
     */
    public static Repacked concat(List<Repacked> parts) {
        Repacked first = parts.get(0);
        if (parts.size() == 1) return first;
        QuantizedMatrix m0 = first.matrix();
        int n = 0;
        boolean anyZp = false;
        for (Repacked p : parts) {
            if (!Arrays.equals(p.inputOrder(), first.inputOrder())) {
                throw new IllegalArgumentException("g_idx orders differ between projections that share an input");
            }
            if (p.matrix().k() != m0.k() || !p.matrix().format().equals(m0.format())) {
                throw new IllegalArgumentException("projections sharing an input differ in shape or format");
            }
            n += p.matrix().n();
            anyZp |= p.matrix().zeroPoints() != null;
        }
        int rowQ = m0.kBlocks() * m0.blobSize();
        int rowZ = m0.zeroPointBytesPerRow();
        byte[] q = new byte[n * rowQ];
        float[] scales = new float[n * m0.kBlocks()];
        byte[] zps = anyZp ? new byte[n * rowZ] : null;
        int row = 0;
        for (Repacked p : parts) {
            QuantizedMatrix m = p.matrix();
            System.arraycopy(m.q(), 0, q, row * rowQ, m.q().length);
            System.arraycopy(m.scales(), 0, scales, row * m0.kBlocks(), m.scales().length);
            if (zps != null) {
                if (m.zeroPoints() != null) {
                    System.arraycopy(m.zeroPoints(), 0, zps, row * rowZ, m.zeroPoints().length);
                } else {
                    int mid = 1 << (m.format().bits() - 1);
                    for (int r = 0; r < m.n(); r++) {
                        for (int b = 0; b < m.kBlocks(); b++) {
                            BlockQuantizer.pack(zps, (row + r) * rowZ, b, mid, m.format().bits());
                        }
                    }
                }
            }
            row += m.n();
        }
        return new Repacked(new QuantizedMatrix(m0.format(), n, m0.k(), q, scales, zps), first.inputOrder());
    }

    /**
     * Writes codes {@code [n, k]}, zero points and scales {@code [groups, n]} into MatMulNBits' blocks, reordering
     * the inputs by group when {@code group} is not non-decreasing.
     */
    private static Repacked assemble(byte[] codes, int[] zeros, float[] scales, int[] group, int n, int k,
                                     CheckpointQuantization c) {
        WeightQuantization f = c.target();
        int bs = f.blockSize();
        int bits = f.bits();
        int[] order = null;
        for (int i = 1; i < k && order == null; i++) {
            if (group[i] < group[i - 1]) order = stableOrderByGroup(group);
        }
        int[] at = order != null ? order : identity(k);
        for (int j = 0; j < k; j++) {
            int first = group[at[j - j % bs]];
            if (group[at[j]] != first) {
                throw new IllegalArgumentException("g_idx puts input " + at[j] + " in group " + group[at[j]]
                        + " but shares MatMulNBits block " + j / bs + " (of " + bs + " inputs) with group " + first
                        + "; only groups of whole blocks load exactly");
            }
        }
        QuantizedMatrix shape = new QuantizedMatrix(f, n, k, new byte[0], new float[0], null);
        int kBlocks = shape.kBlocks();
        int blob = shape.blobSize();
        int zpRow = shape.zeroPointBytesPerRow();
        byte[] q = new byte[n * kBlocks * blob];
        float[] blockScales = new float[n * kBlocks];
        byte[] zps = new byte[n * zpRow];
        int mid = 1 << (bits - 1);
        boolean allMid = true;
        for (int o = 0; o < n; o++) {
            int rowAt = o * k;
            for (int b = 0; b < kBlocks; b++) {
                int g = group[at[b * bs]];
                blockScales[o * kBlocks + b] = scales[g * n + o];
                int zp = zeros[g * n + o];
                allMid &= zp == mid;
                BlockQuantizer.pack(zps, o * zpRow, b, zp, bits);
                int blockAt = (o * kBlocks + b) * blob;
                int end = Math.min(k, (b + 1) * bs);
                for (int j = b * bs; j < end; j++) {
                    BlockQuantizer.pack(q, blockAt, j - b * bs, codes[rowAt + at[j]], bits);
                }
            }
        }
        return new Repacked(new QuantizedMatrix(f, n, k, q, blockScales, allMid ? null : zps), order);
    }

    private static int groups(int k, int groupSize) {
        return groupSize < 0 ? 1 : (k + groupSize - 1) / groupSize;
    }

    private static int[] naturalGroups(int k, int groupSize) {
        int[] g = new int[k];
        if (groupSize > 0) for (int i = 0; i < k; i++) g[i] = i / groupSize;
        return g;
    }

    private static int[] identity(int k) {
        int[] a = new int[k];
        for (int i = 0; i < k; i++) a[i] = i;
        return a;
    }

    /** The inputs sorted by group, ties in input order (a counting sort: groups are small integers). */
    private static int[] stableOrderByGroup(int[] group) {
        int groups = 0;
        for (int g : group) groups = Math.max(groups, g + 1);
        int[] start = new int[groups + 1];
        for (int g : group) start[g + 1]++;
        for (int g = 0; g < groups; g++) start[g + 1] += start[g];
        int[] order = new int[group.length];
        for (int i = 0; i < group.length; i++) order[start[group[i]]++] = i;
        return order;
    }

    private static void check(String tensor, long actual, long expected) {
        if (actual != expected) {
            throw new IllegalArgumentException(tensor + " has " + actual + " values, expected " + expected);
        }
    }
}
