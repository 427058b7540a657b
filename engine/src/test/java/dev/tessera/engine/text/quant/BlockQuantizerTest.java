package dev.tessera.engine.text.quant;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.tessera.engine.onnx.GraphBuilder;
import dev.tessera.engine.onnx.GraphBuilder.ElementType;
import java.nio.FloatBuffer;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The block quantizer against ONNX Runtime's own reading of the layout: a {@code MatMulNBits} node at
 * {@code accuracy_level} 0 (fp32 compute) over our codes, scales and zero points must equal {@code x W^T} with
 * {@code W} dequantized here, and the rounding error of each weight is at most half a step.
 */
class BlockQuantizerTest {

    @ParameterizedTest
    @CsvSource({"int4,48,100", "int4:64:asym,24,130", "int8,40,96", "int8:128:asym,17,200", "int4:128,8,33"})
    void ortReadsTheLayoutAsWeWriteIt(String spec, int n, int k) throws OrtException {
        WeightQuantization f = WeightQuantization.parse(spec);
        SplittableRandom rnd = new SplittableRandom(7);
        float[] w = new float[n * k];
        for (int i = 0; i < w.length; i++) w[i] = (float) (rnd.nextGaussian() * 0.2 + (i % 5 == 0 ? 0.1 : 0));
        QuantizedMatrix m = BlockQuantizer.quantize(w, n, k, f);
        float[] dq = BlockQuantizer.dequantize(m);
        // Each weight within half a step of its block's scale.
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < k; c++) {
                float scale = m.scales()[r * m.kBlocks() + c / f.blockSize()];
                assertTrue(Math.abs(dq[r * k + c] - w[r * k + c]) <= scale * 0.5f + 1e-7f,
                        "weight " + r + "," + c + ": " + w[r * k + c] + " -> " + dq[r * k + c]);
            }
        }
        GraphBuilder g = new GraphBuilder("nbits").opset("", 17).opset("com.microsoft", 1);
        g.input("x", ElementType.FLOAT, "T", k);
        g.initializer("q", m.q(), n, m.kBlocks(), m.blobSize());
        g.initializer("s", m.scales(), (long) n * m.kBlocks());
        GraphBuilder.Node node;
        if (m.zeroPoints() != null) {
            g.initializer("zp", m.zeroPoints(), (long) n * m.zeroPointBytesPerRow());
            node = g.op("MatMulNBits", "x", "q", "s", "zp");
        } else {
            node = g.op("MatMulNBits", "x", "q", "s");
        }
        String y = node.domain("com.microsoft").attr("K", (long) k).attr("N", (long) n)
                .attr("bits", (long) f.bits()).attr("block_size", (long) f.blockSize()).attr("accuracy_level", 0L)
                .out1();
        g.output(y, "y", ElementType.FLOAT, "T", n);
        int rows = 3;
        float[] x = new float[rows * k];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession s = env.createSession(g.toBytes(), new OrtSession.SessionOptions());
             OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {rows, k});
             OrtSession.Result r = s.run(Map.of("x", in))) {
            float[] got = ((OnnxTensor) r.get(0)).getFloatBuffer().array();
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < n; j++) {
                    double want = 0;
                    double mag = 0;
                    for (int c = 0; c < k; c++) {
                        want += (double) x[i * k + c] * dq[j * k + c];
                        mag += Math.abs((double) x[i * k + c] * dq[j * k + c]);
                    }
                    assertEquals(want, got[i * n + j], 1e-5 * mag + 1e-6, spec + " row " + i + " col " + j);
                }
            }
        }
    }

    @Test
    void aBlockOfZerosStaysZeroAndSymmetricBlocksKeepTheLargestMagnitude() {
        float[] w = new float[64];
        w[40] = -0.75f;
        w[41] = 0.25f;
        for (String spec : new String[] {"int4", "int8", "int4:32:asym"}) {
            float[] dq = BlockQuantizer.dequantize(BlockQuantizer.quantize(w, 1, 64, WeightQuantization.parse(spec)));
            for (int i = 0; i < 32; i++) assertEquals(0f, dq[i], spec + " weight " + i);
            if (!spec.endsWith("asym")) assertEquals(-0.75f, dq[40], 1e-6, spec); // asym: the zero point rounds
        }
    }

    @Test
    void specsParseAndBadOnesAreRefused() {
        assertEquals(new WeightQuantization(4, 128, false), WeightQuantization.parse("INT4:128:asym"));
        assertEquals(WeightQuantization.NONE, WeightQuantization.parse("fp32"));
        assertEquals("int8-b32-sym", WeightQuantization.parse("int8").key());
        assertThrows(IllegalArgumentException.class, () -> WeightQuantization.parse("int3"));
        assertThrows(IllegalArgumentException.class, () -> WeightQuantization.parse("int4:48"));
        assertThrows(IllegalArgumentException.class, () -> WeightQuantization.parse("int4:fast"));
    }
}
