package dev.tessera.engine.vision;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.TensorInfo;
import dev.tessera.engine.onnx.GraphBuilder;
import dev.tessera.engine.onnx.GraphBuilder.ElementType;
import dev.tessera.engine.text.convert.WeightsFile;

/**
 * The operations the vision segment graphs are made of, written into one {@link GraphBuilder}: linear layers over
 * the checkpoint's {@code [out, in]} weights, the norms, the activations and the 2-D rotary embedding. Shared by
 * {@link VisionConverter} and the families' {@link VisionBlockGraph}s; one per graph.
 */
final class VisionOps {
    /** The vision towers' norm epsilon (LayerNorm and RMSNorm alike). */
    static final float EPS = 1e-6f;

    final GraphBuilder g;
    private final Checkpoint checkpoint;
    private final VisionConfig config;
    private boolean ropeConstants;
    private boolean geluConstants;
    private boolean rmsConstants;
    private boolean tanhConstants;

    VisionOps(GraphBuilder g, Checkpoint checkpoint, VisionConfig config) {
        this.g = g;
        this.checkpoint = checkpoint;
        this.config = config;
    }

    /** {@code t} as an initializer inside the graph (small tensors: norms and biases). */
    String inline(String name, TensorInfo t) {
        g.initializer(name, checkpoint.readFloats(t), t.shape());
        return name;
    }

    /** A {@code [out, in]} fp32 weight stored in {@code weights.bin} at {@code offset}. */
    String external(String name, long out, long in, long offset) {
        g.externalInitializer(name, ElementType.FLOAT, new long[] {out, in}, WeightsFile.NAME, offset);
        return name;
    }

    /** {@code x W^T + b}, W stored {@code [out, in]}. */
    String gemm(String x, String weight, String bias) {
        return g.op("Gemm", x, weight, bias).attr("transB", 1L).out1();
    }

    String layerNorm(String x, String w, String b) {
        return g.op("LayerNormalization", x, w, b).attr("axis", -1L).attr("epsilon", EPS).out1();
    }

    /**
     * {@code x / sqrt(mean(x^2) + eps) * w}, transformers' {@code Qwen2_5_VLRMSNorm} in fp32, as the pattern
     * ({@code Pow, ReduceMean, Add, Sqrt, Div, Mul}) ONNX Runtime fuses into {@code SimplifiedLayerNormalization},
     * like the decoder's norms.
     */
    String rmsNorm(String x, String w) {
        if (!rmsConstants) {
            g.initializer("rms.two", new float[] {2f});
            g.initializer("rms.eps", new float[] {EPS});
            rmsConstants = true;
        }
        String mean = g.op("ReduceMean", g.op("Pow", x, "rms.two").out1()).attr("axes", new long[] {-1})
                .attr("keepdims", 1L).out1();
        String std = g.op("Sqrt", g.op("Add", mean, "rms.eps").out1()).out1();
        return g.op("Mul", g.op("Div", x, std).out1(), w).out1();
    }

    /** {@code x * sigmoid(1.702 x)}, transformers' QuickGELUActivation. */
    String quickGelu(String x) {
        String k = g.fresh("qg.k");
        g.initializer(k, new float[] {1.702f});
        return g.op("Mul", x, g.op("Sigmoid", g.op("Mul", x, k).out1()).out1()).out1();
    }

    /** {@code x * sigmoid(x)}: torch's SiLU. */
    String silu(String x) {
        return g.op("Mul", x, g.op("Sigmoid", x).out1()).out1();
    }

    /** {@code x * 0.5 * (1 + erf(x / sqrt 2))}: torch's exact GELU. */
    String gelu(String x) {
        if (!geluConstants) {
            g.initializer("gelu.rsqrt2", new float[] {(float) (1 / Math.sqrt(2))});
            g.initializer("gelu.half", new float[] {0.5f});
            g.initializer("gelu.one", new float[] {1f});
            geluConstants = true;
        }
        String erf = g.op("Erf", g.op("Mul", x, "gelu.rsqrt2").out1()).out1();
        return g.op("Mul", g.op("Mul", x, "gelu.half").out1(), g.op("Add", erf, "gelu.one").out1()).out1();
    }

    /**
     * {@code 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³)))}: transformers' {@code gelu_pytorch_tanh}
     * ({@code nn.functional.gelu(approximate="tanh")}); opset 17 has no Gelu op, so it is spelled out.
     */
    String geluTanh(String x) {
        if (!tanhConstants) {
            g.initializer("gelut.k", new float[] {(float) Math.sqrt(2 / Math.PI)});
            g.initializer("gelut.c", new float[] {0.044715f});
            g.initializer("gelut.half", new float[] {0.5f});
            g.initializer("gelut.one", new float[] {1f});
            tanhConstants = true;
        }
        String x3 = g.op("Mul", g.op("Mul", x, x).out1(), x).out1();
        String inner = g.op("Add", x, g.op("Mul", x3, "gelut.c").out1()).out1();
        String t = g.op("Tanh", g.op("Mul", inner, "gelut.k").out1()).out1();
        return g.op("Mul", g.op("Mul", x, "gelut.half").out1(), g.op("Add", t, "gelut.one").out1()).out1();
    }

    /** {@code x * cos + rotate_half(x) * sin} per head of x {@code [N, heads * D]}. */
    String rope(String x) {
        int d = config.headDim();
        int heads = config.numHeads();
        if (!ropeConstants) {
            g.initializer("rope.shape3", new long[] {0, heads, d}, 3);
            g.initializer("rope.shape2", new long[] {0, (long) heads * d}, 2);
            g.initializer("rope.halves", new long[] {d / 2, d / 2}, 2);
            g.initializer("rope.axes1", new long[] {1}, 1);
            ropeConstants = true;
        }
        String cos = g.op("Unsqueeze", VisionGraph.COS, "rope.axes1").out1();
        String sin = g.op("Unsqueeze", VisionGraph.SIN, "rope.axes1").out1();
        String x3 = g.op("Reshape", x, "rope.shape3").out1();
        String[] halves = g.op("Split", x3, "rope.halves").attr("axis", 2L).outN(2);
        String rotated = g.op("Concat", g.op("Neg", halves[1]).out1(), halves[0]).attr("axis", 2L).out1();
        String sum = g.op("Add", g.op("Mul", x3, cos).out1(), g.op("Mul", rotated, sin).out1()).out1();
        return g.op("Reshape", sum, "rope.shape2").out1();
    }
}
