package dev.tessera.engine.detect.convert;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.checkpoint.TensorInfo;
import dev.tessera.engine.detect.model.DetrConfig;
import dev.tessera.engine.onnx.GraphBuilder;
import dev.tessera.engine.onnx.GraphCache;
import dev.tessera.engine.onnx.GraphBuilder.ElementType;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Converts a {@code DetrForObjectDetection} checkpoint into ONNX graphs (see {@link DetrGraphs}), cached on disk like
 * the text segments: {@code cacheDir/graphs/<key>/}, where the key hashes the converter version, {@code config.json}
 * and each safetensors file's name, size, mtime and header; written under a temporary name and renamed into place.
 *
 * <p>The backbone's frozen BatchNorms are folded into the convolutions here ({@code w·γ/√(σ²+1e-5)},
 * {@code β − μ·γ/√(σ²+1e-5)}, as {@code DetrFrozenBatchNorm2d}); the transformer is split at every attention so
 * that attention runs in Java over frames packed without padding. Linear layers are {@code Gemm(x, W, b,
 * transB=1)} over the checkpoint's {@code [out, in]} weights, query and key projections of self-attention are fused
 * into one Gemm over {@code x + pos}, and the cross-attention keys and values of all decoder layers are computed
 * once, at the end of the encoder. LayerNorm is ONNX {@code LayerNormalization} (ε 1e-5). Standard ops, opset
 * {@value #OPSET}. Tensors of at least {@value #EXTERNAL_MIN} floats go to {@code weights.bin}; smaller ones inline.
 */
public final class DetrConverter {
    public static final int OPSET = 17;
    /** Bump when the graphs' structure or the weights layout changes. */
    static final String VERSION = "tessera-detr-1";
    static final int EXTERNAL_MIN = 4096;
    private static final double BN_EPS = 1e-5;
    private static final float LN_EPS = 1e-5f;
    private static final Logger logger = LoggerFactory.getLogger(DetrConverter.class);

    private final Checkpoint checkpoint;
    private final DetrConfig config;
    private final DetrWeights weights;

    /** Validates every tensor the model needs against {@code config}. */
    public DetrConverter(Checkpoint checkpoint, DetrConfig config) {
        this.checkpoint = checkpoint;
        this.config = config;
        this.weights = new DetrWeights(checkpoint, config);
    }

    public DetrWeights weights() {
        return weights;
    }

    /** The graphs of a converted model. */
    public record Converted(Path dir, Path backbone, List<Path> encoder, Path decoderStart, List<Path> decoderCross,
                            List<Path> decoderFfn, boolean reused) {
        /** Every graph, in the order the executor opens them. */
        public List<Path> all() {
            List<Path> out = new ArrayList<>();
            out.add(backbone);
            out.addAll(encoder);
            out.add(decoderStart);
            for (int j = 0; j < decoderCross.size(); j++) {
                out.add(decoderCross.get(j));
                out.add(decoderFfn.get(j));
            }
            return out;
        }
    }

    /** Cache key of this checkpoint under this converter version. */
    public String cacheKey() {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update(VERSION.getBytes(StandardCharsets.UTF_8));
            d.update(Files.readAllBytes(checkpoint.dir().resolve("config.json")));
            checkpoint.fingerprint(d);
            return "detr-" + HexFormat.of().formatHex(d.digest(), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        } catch (IOException e) {
            throw new CheckpointException(checkpoint.dir().resolve("config.json"), null, "cannot read", e);
        }
    }

    /** Returns the cached graphs for this checkpoint, converting them first if they are not there. */
    public Converted convert(Path cacheDir) {
        long start = System.nanoTime();
        GraphCache.Entry e = GraphCache.getOrWrite(cacheDir, cacheKey(), this::writeAll);
        if (e.reused()) {
            logger.info("reusing converted graphs in {}", e.dir());
        } else {
            logger.info("converted DETR {} ({}) into {} ({} ms)", checkpoint.dir(), weights.describeBackbone(),
                    e.dir(), (System.nanoTime() - start) / 1_000_000);
        }
        return converted(e.dir(), e.reused());
    }

    private Converted converted(Path dir, boolean reused) {
        List<Path> enc = new ArrayList<>();
        for (int i = 0; i <= config.encoderLayers(); i++) enc.add(dir.resolve(DetrGraphs.encoder(i)));
        List<Path> cross = new ArrayList<>();
        List<Path> ffn = new ArrayList<>();
        for (int j = 0; j < config.decoderLayers(); j++) {
            cross.add(dir.resolve(DetrGraphs.decoderCross(j)));
            ffn.add(dir.resolve(DetrGraphs.decoderFfn(j)));
        }
        return new Converted(dir, dir.resolve(DetrGraphs.BACKBONE), List.copyOf(enc),
                dir.resolve(DetrGraphs.DECODER_START), List.copyOf(cross), List.copyOf(ffn), reused);
    }

    private void writeAll(Path out) throws IOException {
        try (FloatWeights wf = new FloatWeights(out.resolve(FloatWeights.NAME))) {
            Files.write(out.resolve(DetrGraphs.BACKBONE), backbone(wf).toBytes());
            for (int i = 0; i <= config.encoderLayers(); i++) {
                Files.write(out.resolve(DetrGraphs.encoder(i)), encoder(i, wf).toBytes());
            }
            Files.write(out.resolve(DetrGraphs.DECODER_START), decoderStart(wf).toBytes());
            for (int j = 0; j < config.decoderLayers(); j++) {
                Files.write(out.resolve(DetrGraphs.decoderCross(j)), decoderCross(j, wf).toBytes());
                Files.write(out.resolve(DetrGraphs.decoderFfn(j)), decoderFfn(j, wf).toBytes());
            }
        }
    }

    private GraphBuilder graph(String name) {
        return new GraphBuilder(name).opset("", OPSET).metadata("tessera.converter", VERSION)
                .metadata("tessera.graph", name);
    }

    GraphBuilder backbone(FloatWeights wf) {
        GraphBuilder g = graph("backbone");
        Ops ops = new Ops(g, wf);
        g.input(DetrGraphs.PIXELS, ElementType.FLOAT, "N", 3, "H", "W");
        String x = ops.relu(ops.convBn(DetrGraphs.PIXELS, "stem", weights.stem));
        x = g.op("MaxPool", x).attr("kernel_shape", new long[] {3, 3}).attr("strides", new long[] {2, 2})
                .attr("pads", new long[] {1, 1, 1, 1}).out1();
        for (int s = 0; s < weights.stages.size(); s++) {
            List<DetrWeights.Block> blocks = weights.stages.get(s);
            for (int b = 0; b < blocks.size(); b++) {
                DetrWeights.Block blk = blocks.get(b);
                String p = "s" + s + ".b" + b + ".";
                String y = ops.relu(ops.convBn(x, p + "reduce", blk.reduce()));
                y = ops.relu(ops.convBn(y, p + "conv3x3", blk.conv3x3()));
                y = ops.convBn(y, p + "expand", blk.expand());
                String shortcut = blk.shortcut() == null ? x : ops.convBn(x, p + "shortcut", blk.shortcut());
                x = ops.relu(g.op("Add", y, shortcut).out1());
            }
        }
        long d = config.dModel();
        TensorInfo pw = weights.inputProjection.weight();
        String w = ops.constant("proj.weight", read(pw), pw.shape());
        String bias = ops.constant("proj.bias", read(weights.inputProjection.bias()), d);
        String proj = g.op("Conv", x, w, bias).attr("kernel_shape", new long[] {1, 1}).out1();
        String nhwc = g.op("Transpose", proj).attr("perm", new long[] {0, 2, 3, 1}).out1();
        g.initializer("rows.shape", new long[] {-1, d}, 2);
        g.op("Reshape", nhwc, "rows.shape").out(DetrGraphs.TOKENS).add();
        g.output(DetrGraphs.TOKENS, ElementType.FLOAT, "M", d);
        return g;
    }

    GraphBuilder encoder(int i, FloatWeights wf) {
        int layers = config.encoderLayers();
        long d = config.dModel();
        GraphBuilder g = graph("encoder-" + i);
        Ops ops = new Ops(g, wf);
        String x;
        if (i == 0) {
            g.input(DetrGraphs.X_IN, ElementType.FLOAT, "T", d);
            g.input(DetrGraphs.POS, ElementType.FLOAT, "T", d);
            x = DetrGraphs.X_IN;
        } else {
            g.input(DetrGraphs.ATTN, ElementType.FLOAT, "T", d);
            g.input(DetrGraphs.X_IN, ElementType.FLOAT, "T", d);
            g.input(DetrGraphs.POS, ElementType.FLOAT, "T", d);
            DetrWeights.EncoderLayer l = weights.encoder.get(i - 1);
            String p = "enc" + (i - 1) + ".";
            x = ops.postAttention(DetrGraphs.ATTN, DetrGraphs.X_IN, p + "self", l.self(), l.selfNorm());
            x = ops.ffn(x, p + "ffn", l.fc1(), l.fc2(), l.finalNorm());
        }
        if (i < layers) {
            if (i > 0) {
                g.op("Identity", x).out(DetrGraphs.X_OUT).add();
                g.output(DetrGraphs.X_OUT, ElementType.FLOAT, "T", d);
            }
            ops.selfQkv(x, DetrGraphs.POS, "enc" + i + ".self", weights.encoder.get(i).self(), "T");
            return g;
        }
        // After the last layer: every decoder layer's cross-attention keys (memory + pos) and values (memory).
        int dec = config.decoderLayers();
        String keyIn = g.op("Add", x, DetrGraphs.POS).out1();
        float[][] kw = new float[dec][];
        float[][] kb = new float[dec][];
        float[][] vw = new float[dec][];
        float[][] vb = new float[dec][];
        for (int j = 0; j < dec; j++) {
            DetrWeights.Attention a = weights.decoder.get(j).cross();
            kw[j] = read(a.k());
            kb[j] = read(a.kBias());
            vw[j] = read(a.v());
            vb[j] = read(a.vBias());
        }
        String ks = ops.gemm(keyIn, ops.constant("cross.k.weight", concat(kw), dec * d, d),
                ops.constant("cross.k.bias", concat(kb), dec * d));
        String vs = ops.gemm(x, ops.constant("cross.v.weight", concat(vw), dec * d, d),
                ops.constant("cross.v.bias", concat(vb), dec * d));
        long[] split = new long[dec];
        java.util.Arrays.fill(split, d);
        g.initializer("cross.split", split, dec);
        String[] kNames = new String[dec];
        String[] vNames = new String[dec];
        for (int j = 0; j < dec; j++) {
            kNames[j] = DetrGraphs.crossK(j);
            vNames[j] = DetrGraphs.crossV(j);
        }
        g.op("Split", ks, "cross.split").attr("axis", 1L).out(kNames).add();
        g.op("Split", vs, "cross.split").attr("axis", 1L).out(vNames).add();
        for (int j = 0; j < dec; j++) {
            g.output(kNames[j], ElementType.FLOAT, "T", d);
            g.output(vNames[j], ElementType.FLOAT, "T", d);
        }
        return g;
    }

    GraphBuilder decoderStart(FloatWeights wf) {
        long d = config.dModel();
        GraphBuilder g = graph("decoder-start");
        Ops ops = new Ops(g, wf);
        g.input(DetrGraphs.X_IN, ElementType.FLOAT, "R", d);
        g.input(DetrGraphs.QUERY_POS, ElementType.FLOAT, "R", d);
        ops.selfQkv(DetrGraphs.X_IN, DetrGraphs.QUERY_POS, "dec0.self", weights.decoder.get(0).self(), "R");
        return g;
    }

    GraphBuilder decoderCross(int j, FloatWeights wf) {
        long d = config.dModel();
        GraphBuilder g = graph("decoder-" + j + "-cross");
        Ops ops = new Ops(g, wf);
        g.input(DetrGraphs.ATTN, ElementType.FLOAT, "R", d);
        g.input(DetrGraphs.X_IN, ElementType.FLOAT, "R", d);
        g.input(DetrGraphs.QUERY_POS, ElementType.FLOAT, "R", d);
        DetrWeights.DecoderLayer l = weights.decoder.get(j);
        String p = "dec" + j + ".";
        String h = ops.postAttention(DetrGraphs.ATTN, DetrGraphs.X_IN, p + "self", l.self(), l.selfNorm());
        g.op("Identity", h).out(DetrGraphs.X_OUT).add();
        g.output(DetrGraphs.X_OUT, ElementType.FLOAT, "R", d);
        String qIn = g.op("Add", h, DetrGraphs.QUERY_POS).out1();
        DetrWeights.Attention a = l.cross();
        String q = ops.gemm(qIn, ops.constant(p + "cross.q.weight", read(a.q()), d, d),
                ops.constant(p + "cross.q.bias", read(a.qBias()), d));
        g.output(q, DetrGraphs.Q, ElementType.FLOAT, "R", d);
        return g;
    }

    GraphBuilder decoderFfn(int j, FloatWeights wf) {
        long d = config.dModel();
        boolean last = j == config.decoderLayers() - 1;
        GraphBuilder g = graph("decoder-" + j + "-ffn");
        Ops ops = new Ops(g, wf);
        g.input(DetrGraphs.ATTN, ElementType.FLOAT, "R", d);
        g.input(DetrGraphs.X_IN, ElementType.FLOAT, "R", d);
        if (!last) g.input(DetrGraphs.QUERY_POS, ElementType.FLOAT, "R", d);
        DetrWeights.DecoderLayer l = weights.decoder.get(j);
        String p = "dec" + j + ".";
        String h = ops.postAttention(DetrGraphs.ATTN, DetrGraphs.X_IN, p + "cross", l.cross(), l.crossNorm());
        h = ops.ffn(h, p + "ffn", l.fc1(), l.fc2(), l.finalNorm());
        if (!last) {
            g.op("Identity", h).out(DetrGraphs.X_OUT).add();
            g.output(DetrGraphs.X_OUT, ElementType.FLOAT, "R", d);
            ops.selfQkv(h, DetrGraphs.QUERY_POS, "dec" + (j + 1) + ".self", weights.decoder.get(j + 1).self(), "R");
            return g;
        }
        String hn = ops.layerNorm(h, "dec.norm", weights.decoderNorm);
        String logits = ops.linear(hn, "class", weights.classifier);
        g.output(logits, DetrGraphs.LOGITS, ElementType.FLOAT, "R", config.numLabels() + 1);
        String b = ops.relu(ops.linear(hn, "box0", weights.boxHead.get(0)));
        b = ops.relu(ops.linear(b, "box1", weights.boxHead.get(1)));
        b = g.op("Sigmoid", ops.linear(b, "box2", weights.boxHead.get(2))).out1();
        g.output(b, DetrGraphs.BOXES, ElementType.FLOAT, "R", 4);
        return g;
    }

    private float[] read(TensorInfo t) {
        return checkpoint.readFloats(t);
    }

    private static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) n += p.length;
        float[] out = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** Op patterns over one graph. */
    private final class Ops {
        private final GraphBuilder g;
        private final FloatWeights wf;

        Ops(GraphBuilder g, FloatWeights wf) {
            this.g = g;
            this.wf = wf;
        }

        /** An fp32 constant: inline when small, else in {@code weights.bin}. */
        String constant(String name, float[] data, long... dims) {
            if (data.length < EXTERNAL_MIN) {
                g.initializer(name, data, dims);
            } else {
                g.externalInitializer(name, ElementType.FLOAT, dims, FloatWeights.NAME, wf.append(data));
            }
            return name;
        }

        String relu(String x) {
            return g.op("Relu", x).out1();
        }

        /** Convolution with the following frozen BatchNorm folded in. */
        String convBn(String x, String name, DetrWeights.ConvBn c) {
            float[] w = read(c.conv());
            float[] gamma = read(c.gamma());
            float[] beta = read(c.beta());
            float[] mean = read(c.mean());
            float[] var = read(c.var());
            long[] shape = c.conv().shape();
            int out = (int) shape[0];
            int per = w.length / out;
            float[] bias = new float[out];
            for (int o = 0; o < out; o++) {
                double scale = gamma[o] / Math.sqrt(var[o] + BN_EPS);
                for (int i = o * per; i < (o + 1) * per; i++) w[i] = (float) (w[i] * scale);
                bias[o] = (float) (beta[o] - mean[o] * scale);
            }
            String wn = constant(name + ".weight", w, shape);
            String bn = constant(name + ".bias", bias, out);
            long k = shape[2];
            return g.op("Conv", x, wn, bn).attr("kernel_shape", new long[] {k, k})
                    .attr("strides", new long[] {c.stride(), c.stride()})
                    .attr("pads", new long[] {c.pad(), c.pad(), c.pad(), c.pad()}).out1();
        }

        String gemm(String x, String w, @Nullable String b) {
            GraphBuilder.Node n = b == null ? g.op("Gemm", x, w) : g.op("Gemm", x, w, b);
            return n.attr("transB", 1L).out1();
        }

        String linear(String x, String name, DetrWeights.Linear l) {
            return gemm(x, constant(name + ".weight", read(l.weight()), l.weight().shape()),
                    constant(name + ".bias", read(l.bias()), l.bias().shape()));
        }

        String layerNorm(String x, String name, DetrWeights.Norm n) {
            String w = constant(name + ".weight", read(n.weight()), n.weight().shape());
            String b = constant(name + ".bias", read(n.bias()), n.bias().shape());
            return g.op("LayerNormalization", x, w, b).attr("axis", -1L).attr("epsilon", LN_EPS).out1();
        }

        /** LayerNorm(residual + o_proj(attn)). */
        String postAttention(String attn, String residual, String name, DetrWeights.Attention a, DetrWeights.Norm n) {
            long d = config.dModel();
            String o = gemm(attn, constant(name + ".o.weight", read(a.o()), d, d),
                    constant(name + ".o.bias", read(a.oBias()), d));
            return layerNorm(g.op("Add", residual, o).out1(), name + ".norm", n);
        }

        /** LayerNorm(x + fc2(relu(fc1(x)))). */
        String ffn(String x, String name, DetrWeights.Linear fc1, DetrWeights.Linear fc2, DetrWeights.Norm n) {
            String h = linear(relu(linear(x, name + ".fc1", fc1)), name + ".fc2", fc2);
            return layerNorm(g.op("Add", x, h).out1(), name + ".norm", n);
        }

        /** Graph outputs q, k (from {@code x + pos}, one fused Gemm) and v (from {@code x}). */
        void selfQkv(String x, String pos, String name, DetrWeights.Attention a, String rows) {
            long d = config.dModel();
            String qkIn = g.op("Add", x, pos).out1();
            String qk = gemm(qkIn, constant(name + ".qk.weight", concat(read(a.q()), read(a.k())), 2 * d, d),
                    constant(name + ".qk.bias", concat(read(a.qBias()), read(a.kBias())), 2 * d));
            g.initializer(name + ".qk.split", new long[] {d, d}, 2);
            g.op("Split", qk, name + ".qk.split").attr("axis", 1L).out(DetrGraphs.Q, DetrGraphs.K).add();
            String v = gemm(x, constant(name + ".v.weight", read(a.v()), d, d),
                    constant(name + ".v.bias", read(a.vBias()), d));
            g.op("Identity", v).out(DetrGraphs.V).add();
            g.output(DetrGraphs.Q, ElementType.FLOAT, rows, d);
            g.output(DetrGraphs.K, ElementType.FLOAT, rows, d);
            g.output(DetrGraphs.V, ElementType.FLOAT, rows, d);
        }
    }
}
