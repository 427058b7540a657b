package dev.tessera.engine.text.quant;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.text.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The repacked MatMulNBits blob, dequantized by MatMulNBits' formula ({@link BlockQuantizer#dequantize}, pinned to
 * ONNX Runtime by {@link BlockQuantizerTest}), equals bit for bit the weights the checkpoint's own formula gives:
 * GPTQ {@code w[o][i] = scales[g_idx[i]][o] * (q - (zero + 1 in v1))}, AWQ {@code (q - zero) * scale} with the
 * interleaved nibbles, as GPT-QModel 7.7 computes them ({@code dequantize_weight}, {@code dequantize_gemm}). The
 * reference decoders below are written from that source independently of {@link PreQuantizedLinear}: whole-word
 * shifts over {@code [in, out]}, as in the library, not per-row loops.
 */
class PreQuantizedLinearTest {
    static final Path FIXTURES = Path.of("src/test/resources/fixtures");

    /** gptqmodel's GPTQ dequantization, {@code [out, in]}. */
    static float[] gptqReference(int[] qweight, int[] qzeros, float[] scales, int[] gIdx, int n, int k, int bits,
                                 boolean v1) {
        int pf = 32 / bits;
        int mask = (1 << bits) - 1;
        int zw = (n + pf - 1) / pf;
        int add = 0;
        if (v1) for (int j = 0; j < pf; j++) add += 1 << (bits * j); // convert_gptq_v1_to_v2: qzeros += 0x11111111
        float[] w = new float[n * k];
        for (int i = 0; i < k; i++) {
            int g = gIdx[i];
            for (int o = 0; o < n; o++) {
                int q = (qweight[(i / pf) * n + o] >>> (bits * (i % pf))) & mask;
                int z = ((qzeros[g * zw + o / pf] + add) >>> (bits * (o % pf))) & mask;
                w[o * k + i] = scales[g * n + o] * (q - z);
            }
        }
        return w;
    }

    /** gptqmodel's {@code dequantize_gemm}: unpack, then undo {@code AWQ_ORDER} with {@code AWQ_REVERSE_ORDER}. */
    static float[] awqReference(int[] qweight, int[] qzeros, float[] scales, int n, int k, int groupSize) {
        int[] reverse = {0, 4, 1, 5, 2, 6, 3, 7};
        int words = n / 8;
        float[] w = new float[n * k];
        for (int i = 0; i < k; i++) {
            int g = i / groupSize;
            for (int o = 0; o < n; o++) {
                int nib = reverse[o % 8];
                int q = (qweight[i * words + o / 8] >>> (4 * nib)) & 15;
                int z = (qzeros[g * words + o / 8] >>> (4 * nib)) & 15;
                w[o * k + i] = (q - z) * scales[g * n + o];
            }
        }
        return w;
    }

    /** The repacked matrix's weights back in the natural input order, {@code [out, in]}. */
    static float[] dequantizedNatural(PreQuantizedLinear.Repacked r) {
        QuantizedMatrix m = r.matrix();
        float[] stored = BlockQuantizer.dequantize(m);
        if (r.inputOrder() == null) return stored;
        float[] w = new float[stored.length];
        for (int o = 0; o < m.n(); o++) {
            for (int j = 0; j < m.k(); j++) w[o * m.k() + r.inputOrder()[j]] = stored[o * m.k() + j];
        }
        return w;
    }

    @ParameterizedTest
    @CsvSource({"gptq-desc-act,self_attn.q_proj", "gptq-desc-act,mlp.down_proj", "gptq-desc-act,mlp.gate_proj",
            "gptq-sym,self_attn.v_proj", "gptq-sym,mlp.down_proj", "awq-gemm,self_attn.o_proj",
            "awq-gemm,mlp.up_proj", "awq-gemm,mlp.down_proj"})
    void fixtureLayersRepackBitExactly(String fixture, String module) {
        Path dir = FIXTURES.resolve(fixture);
        ModelConfig.load(dir);
        CheckpointQuantization c = CheckpointQuantization.load(dir);
        assertNotNull(c);
        try (Checkpoint ck = Checkpoint.open(dir)) {
            for (int layer = 0; layer < 2; layer++) {
                String p = "model.layers." + layer + "." + module;
                int[] qw = ck.readInts(ck.tensor(p + ".qweight"));
                int[] qz = ck.readInts(ck.tensor(p + ".qzeros"));
                float[] sc = ck.readFloats(ck.tensor(p + ".scales"));
                int n = (int) ck.tensor(p + ".scales").shape()[1];
                PreQuantizedLinear.Repacked r;
                float[] expected;
                if (c.method() == CheckpointQuantization.Method.GPTQ) {
                    int[] g = ck.readInts(ck.tensor(p + ".g_idx"));
                    int k = g.length;
                    r = PreQuantizedLinear.gptq(qw, qz, sc, g, n, k, c);
                    expected = gptqReference(qw, qz, sc, g, n, k, c.bits(), c.zeroMinusOne());
                    if (c.descAct()) assertNotNull(r.inputOrder(), "act-order g_idx is not monotonic: reordered");
                } else {
                    int k = (int) ck.tensor(p + ".qweight").shape()[0];
                    r = PreQuantizedLinear.awq(qw, qz, sc, n, k, c);
                    expected = awqReference(qw, qz, sc, n, k, c.groupSize());
                }
                assertArrayEquals(expected, dequantizedNatural(r), p);
            }
        }
    }

    /** Random GPTQ layers packed as gptqmodel's {@code pack_original} does, v1 with every zero point 0..15. */
    @ParameterizedTest
    @CsvSource({"4,32,true,true,96,40", "4,128,false,true,256,24", "8,64,true,false,192,20", "4,-1,true,false,200,16",
            "4,256,true,true,512,8", "8,32,false,true,70,12"})
    void packedGptqLayersRepackBitExactly(int bits, int group, boolean v1, boolean actOrder, int k, int n) {
        Random rnd = new Random(bits * 1000L + group + k);
        int pf = 32 / bits;
        int groups = group < 0 ? 1 : (k + group - 1) / group;
        int[] gIdx = new int[k];
        for (int i = 0; i < k; i++) gIdx[i] = group < 0 ? 0 : i / group;
        if (actOrder) { // a random permutation of the inputs, as act-order's perm[] makes g_idx
            for (int i = k - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                int t = gIdx[i];
                gIdx[i] = gIdx[j];
                gIdx[j] = t;
            }
        }
        int[] codes = new int[k * n];
        for (int i = 0; i < codes.length; i++) codes[i] = rnd.nextInt(1 << bits);
        int[] zeros = new int[groups * n];
        for (int i = 0; i < zeros.length; i++) zeros[i] = i % (1 << bits); // 0 included: v1's borrow case
        float[] scales = new float[groups * n];
        // fp16-exact values, as a checkpoint stores them
        for (int i = 0; i < scales.length; i++) scales[i] = (1 + rnd.nextInt(100)) / 2048f;
        int[] qweight = new int[(k + pf - 1) / pf * n];
        for (int i = 0; i < k; i++) {
            for (int o = 0; o < n; o++) qweight[(i / pf) * n + o] |= codes[i * n + o] << (bits * (i % pf));
        }
        int zw = (n + pf - 1) / pf;
        int[] qzeros = new int[groups * zw];
        for (int g = 0; g < groups; g++) {
            for (int o = 0; o < n; o++) qzeros[g * zw + o / pf] |= zeros[g * n + o] << (bits * (o % pf));
        }
        if (v1) { // convert_gptq_v2_to_v1_format_module: qzeros -= 0x11111111 (or 0x01010101), borrows and all
            int sub = 0;
            for (int j = 0; j < pf; j++) sub += 1 << (bits * j);
            for (int i = 0; i < qzeros.length; i++) qzeros[i] -= sub;
        }
        CheckpointQuantization c = new CheckpointQuantization(CheckpointQuantization.Method.GPTQ, bits, group, false,
                actOrder, v1);
        PreQuantizedLinear.Repacked r = PreQuantizedLinear.gptq(qweight, qzeros, scales, gIdx, n, k, c);
        float[] expected = gptqReference(qweight, qzeros, scales, gIdx, n, k, bits, v1);
        float[] direct = new float[n * k];
        for (int i = 0; i < k; i++) {
            for (int o = 0; o < n; o++) {
                direct[o * k + i] = scales[gIdx[i] * n + o] * (codes[i * n + o] - zeros[gIdx[i] * n + o]);
            }
        }
        assertArrayEquals(direct, expected, "the reference decoder undoes the packing");
        assertArrayEquals(expected, dequantizedNatural(r));
        assertEquals(actOrder, r.inputOrder() != null);
    }

    @Test
    void symmetricZeroPointsAreLeftImplicit() {
        int k = 64;
        int n = 8;
        int[] qweight = new int[k / 8 * n];
        int[] qzeros = {0x77777777}; // v1: every zero point 8 stored as 7
        float[] scales = new float[n];
        java.util.Arrays.fill(scales, 0.5f);
        CheckpointQuantization c = new CheckpointQuantization(CheckpointQuantization.Method.GPTQ, 4, 64, true, false,
                true);
        PreQuantizedLinear.Repacked r = PreQuantizedLinear.gptq(qweight, qzeros, scales, null, n, k, c);
        assertNull(r.matrix().zeroPoints(), "MatMulNBits' default zero point 8 is the checkpoint's");
        assertEquals(-4f, BlockQuantizer.dequantize(r.matrix())[0]);
    }

    @Test
    void fusedProjectionsMustShareTheirInputOrder() {
        CheckpointQuantization c = new CheckpointQuantization(CheckpointQuantization.Method.GPTQ, 4, 32, false, true,
                false);
        int k = 64;
        int n = 8;
        int[] a = new int[k];
        int[] b = new int[k];
        for (int i = 0; i < k; i++) {
            a[i] = (i + 1) % 2; // group 0 on odd inputs
            b[i] = i % 2;
        }
        int[] qweight = new int[k / 8 * n];
        int[] qzeros = new int[2];
        float[] scales = new float[2 * n];
        PreQuantizedLinear.Repacked ra = PreQuantizedLinear.gptq(qweight, qzeros, scales, a, n, k, c);
        PreQuantizedLinear.Repacked rb = PreQuantizedLinear.gptq(qweight, qzeros, scales, b, n, k, c);
        assertEquals(2 * n, PreQuantizedLinear.concat(List.of(ra, ra)).matrix().n());
        assertThrows(IllegalArgumentException.class, () -> PreQuantizedLinear.concat(List.of(ra, rb)));
    }
}
