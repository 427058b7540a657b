package dev.tessera.bench;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import dev.tessera.engine.attention.AttentionWorkers;
import dev.tessera.engine.attention.PackedAttention;
import dev.tessera.engine.onnx.GraphBuilder;
import dev.tessera.engine.onnx.GraphBuilder.ElementType;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code bench attention --unet}: the three ways the Stable Diffusion UNet's attention can run, on SD 1.5's shapes,
 * time and peak memory side by side.
 *
 * <ol>
 *   <li><b>graph</b>: what {@code Layers.attention} wrote before: heads to the front, {@code MatMul}, {@code Mul},
 *       {@code Softmax}, {@code MatMul} inside the ONNX graph, so the scores {@code [rows, heads, Lq, Lk]} (and their
 *       softmax) are materialised;</li>
 *   <li><b>mha</b>: ONNX Runtime's {@code com.microsoft.MultiHeadAttention} contrib op on {@code [rows, L, heads·d]}
 *       (its CPU kernel takes MLAS's FlashAttention path for fp32 without mask, bias or past when the host reports an
 *       L2 cache size; otherwise it falls back to materialised scores);</li>
 *   <li><b>java</b>: the Java {@link PackedAttention} kernel, bidirectional, one span per row.</li>
 * </ol>
 *
 * <p>Shapes (SD 1.5 at 512×512, 64×64 latents): self-attention 4096 tokens × 8 heads × 40, 1024 × 8 × 80, 256 × 8 ×
 * 160, and the cross-attention of 4096 tokens to the 77 text tokens (8 × 40); each at {@code --rows} batch rows
 * (default 1 and 2: the materialised scores of 8 rows at 4096 tokens are 4 GiB, twice with their softmax).
 *
 * <p>Time: warm-up, then alternating rounds (java, mha, graph), the best round mean of each. Peak memory
 * ({@code *_peak_mib}): for the ORT graphs, a separate session with ORT's arena off runs once after Linux's peak
 * resident size is reset ({@code /proc/self/clear_refs} = 5), and the figure is the peak resident size during the
 * call minus the resident size before it (inputs and the pinned output are allocated before); for the Java kernel,
 * the bytes it allocates when created (its per-worker scratch; a call allocates nothing). -1 where the OS gives no
 * peak. The last stdout line is {@code {"unet":[{"shape":..,"rows":..,"java_ms":..,"mha_ms":..,"graph_ms":..,
 * "java_peak_mib":..,"mha_peak_mib":..,"graph_peak_mib":..,"max_abs_diff":..},...]}}.
 */
public final class UNetAttentionBench {
    private static final int ROUNDS = 3;
    private static final long WARMUP_NANOS = 1_500_000_000L;

    /** One UNet attention: {@code rows} rows of {@code qLen} queries over {@code kLen} keys, {@code heads × d}. */
    public record Shape(String name, int rows, int heads, int headDim, int qLen, int kLen) {
        int width() {
            return heads * headDim;
        }
    }

    /** Figures of one shape. */
    public record Result(Shape shape, double javaMs, double mhaMs, double graphMs, double javaPeakMib,
                         double mhaPeakMib, double graphPeakMib, double maxAbsDiff) {
        String json() {
            Shape s = shape;
            return String.format(Locale.ROOT, "{\"shape\":\"%s\",\"rows\":%d,\"heads\":%d,\"head_dim\":%d,"
                    + "\"q_len\":%d,\"k_len\":%d,\"java_ms\":%.3f,\"mha_ms\":%.3f,\"graph_ms\":%.3f,"
                    + "\"java_peak_mib\":%.2f,\"mha_peak_mib\":%.2f,\"graph_peak_mib\":%.2f,\"max_abs_diff\":%.3e}",
                    s.name(), s.rows(), s.heads(), s.headDim(), s.qLen(), s.kLen(), javaMs, mhaMs, graphMs,
                    javaPeakMib, mhaPeakMib, graphPeakMib, maxAbsDiff);
        }
    }

    /** SD 1.5's attention shapes at 64×64 latents, each at every count of {@code rows}. */
    public static List<Shape> sd15(int[] rows) {
        List<Shape> shapes = new ArrayList<>();
        for (int r : rows) {
            shapes.add(new Shape("self-4096x8x40", r, 8, 40, 4096, 4096));
            shapes.add(new Shape("self-1024x8x80", r, 8, 80, 1024, 1024));
            shapes.add(new Shape("self-256x8x160", r, 8, 160, 256, 256));
            shapes.add(new Shape("cross-4096x77x8x40", r, 8, 40, 4096, 77));
        }
        return shapes;
    }

    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final AttentionWorkers workers;
    private final int threads;

    UNetAttentionBench(int threads) {
        this.threads = threads;
        this.workers = new AttentionWorkers(threads);
    }

    public static void main(String[] args) throws Exception {
        boolean json = false;
        int[] rows = {1, 2};
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--json" -> json = true;
                case "--unet" -> { }
                case "--rows" -> {
                    if (i + 1 == args.length) throw new IllegalArgumentException("--rows needs a list, e.g. 1,2,4,8");
                    String[] parts = args[++i].split(",");
                    rows = new int[parts.length];
                    for (int j = 0; j < parts.length; j++) rows[j] = Integer.parseInt(parts[j].trim());
                }
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (use --unet, --json, --rows 1,2,4,8)");
            }
        }
        UNetAttentionBench bench = new UNetAttentionBench(Runtime.getRuntime().availableProcessors());
        List<Result> results = new ArrayList<>();
        try {
            for (Shape s : sd15(rows)) {
                Result r = bench.measure(s, 0);
                results.add(r);
                log("%-20s rows %d: java %9.2f ms  mha %9.2f ms  graph %9.2f ms | peak MiB java %.1f  mha %.1f  "
                        + "graph %.1f | max|diff| %.1e", s.name(), s.rows(), r.javaMs(), r.mhaMs(), r.graphMs(),
                        r.javaPeakMib(), r.mhaPeakMib(), r.graphPeakMib(), r.maxAbsDiff());
                System.gc();
            }
        } finally {
            bench.close();
        }
        StringBuilder out = new StringBuilder("{\"unet\":[");
        for (int i = 0; i < results.size(); i++) {
            if (i > 0) out.append(',');
            out.append(results.get(i).json());
        }
        out.append("]}");
        if (!json) {
            for (Result r : results) {
                System.out.printf(Locale.ROOT, "%-20s rows %d  java %.2f ms  mha %.2f ms  graph %.2f ms%n",
                        r.shape().name(), r.shape().rows(), r.javaMs(), r.mhaMs(), r.graphMs());
            }
        }
        System.out.println(out);
    }

    void close() {
        workers.close();
    }

    /**
     * Times the three ways on the same q/k/v and compares their outputs.
     *
     * @param iterations calls per round and way; 0 sizes them to about a second of the slowest way
     */
    Result measure(Shape s, int iterations) throws OrtException {
        int qRows = s.rows() * s.qLen();
        int kRows = s.rows() * s.kLen();
        float[] q = new float[qRows * s.width()];
        float[] k = new float[kRows * s.width()];
        float[] v = new float[kRows * s.width()];
        Xorshift fill = new Xorshift(0x0E7L + qRows * 31L + kRows);
        fill.fill(q, 1f);
        fill.fill(k, 1f);
        fill.fill(v, 1f);
        int[] cuQ = new int[s.rows() + 1];
        int[] cuK = new int[s.rows() + 1];
        for (int r = 0; r < s.rows(); r++) {
            cuQ[r + 1] = cuQ[r] + s.qLen();
            cuK[r + 1] = cuK[r] + s.kLen();
        }
        float[] javaOut = new float[q.length];
        long allocated0 = allocatedBytes();
        double graphPeak;
        double mhaPeak;
        try (QkvCall probe = call(s, false, q, k, v, false)) {
            graphPeak = peakMib(probe);
        }
        try (QkvCall probe = call(s, true, q, k, v, false)) {
            mhaPeak = peakMib(probe);
        }
        try (PackedAttention packed = new PackedAttention(s.heads(), s.heads(), s.headDim(), workers)) {
            long javaBytes = allocatedBytes() - allocated0;
            try (QkvCall mha = call(s, true, q, k, v, true);
                    QkvCall graph = call(s, false, q, k, v, true)) {
                long warmUntil = System.nanoTime() + (iterations > 0 ? 0 : WARMUP_NANOS);
                for (int i = 0; i < 1 || System.nanoTime() < warmUntil; i++) {
                    packed.forward(q, k, v, cuQ, cuK, s.rows(), javaOut);
                }
                mha.run();
                long t0 = System.nanoTime();
                graph.run();
                double graphMs = (System.nanoTime() - t0) / 1e6;
                int iters = iterations > 0 ? iterations : (int) Math.max(1, Math.min(50, 1000 / graphMs));
                double bestJava = Double.MAX_VALUE;
                double bestMha = Double.MAX_VALUE;
                double bestGraph = Double.MAX_VALUE;
                for (int r = 0; r < ROUNDS; r++) {
                    long a = System.nanoTime();
                    for (int i = 0; i < iters; i++) packed.forward(q, k, v, cuQ, cuK, s.rows(), javaOut);
                    long b = System.nanoTime();
                    for (int i = 0; i < iters; i++) mha.run();
                    long c = System.nanoTime();
                    for (int i = 0; i < iters; i++) graph.run();
                    long d = System.nanoTime();
                    bestJava = Math.min(bestJava, (b - a) / 1e6 / iters);
                    bestMha = Math.min(bestMha, (c - b) / 1e6 / iters);
                    bestGraph = Math.min(bestGraph, (d - c) / 1e6 / iters);
                }
                double diff = 0;
                for (int i = 0; i < javaOut.length; i++) {
                    diff = Math.max(diff, Math.abs(javaOut[i] - mha.output.get(i)));
                    diff = Math.max(diff, Math.abs(javaOut[i] - graph.output.get(i)));
                }
                return new Result(s, bestJava, bestMha, bestGraph, javaBytes / (double) (1 << 20), mhaPeak,
                        graphPeak, diff);
            }
        }
    }

    private static long allocatedBytes() {
        if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t) {
            return t.getThreadAllocatedBytes(Thread.currentThread().getId());
        }
        return 0;
    }

    /** The shape's attention on ORT: the graph's way (MatMul, Softmax, MatMul) or the contrib op. */
    private QkvCall call(Shape s, boolean mha, float[] q, float[] k, float[] v, boolean arena) throws OrtException {
        return new QkvCall(env, mha ? mhaModel(s) : graphModel(s), threads, arena,
                new long[] {s.rows(), s.qLen(), s.width()}, new long[] {s.rows(), s.kLen(), s.width()}, q, k, v);
    }

    /** Peak resident MiB one call of {@code c} adds, or -1 where the OS cannot tell. */
    private static double peakMib(QkvCall c) throws OrtException {
        long before = residentKib("VmRSS:");
        if (before < 0 || !resetPeak()) return -1;
        c.run();
        long peak = residentKib("VmHWM:");
        return peak < 0 ? -1 : Math.max(0, peak - before) / 1024.0;
    }

    private static boolean resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return false;
        }
    }

    private static long residentKib(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.US_ASCII)) {
                if (line.startsWith(field)) return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]);
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /** {@code com.microsoft.MultiHeadAttention(q, k, v)} on {@code [rows, L, heads·d]}. */
    static byte[] mhaModel(Shape s) {
        GraphBuilder g = new GraphBuilder("unet_mha").opset("", 17).opset("com.microsoft", 1);
        g.input("q", ElementType.FLOAT, s.rows(), s.qLen(), s.width());
        g.input("k", ElementType.FLOAT, s.rows(), s.kLen(), s.width());
        g.input("v", ElementType.FLOAT, s.rows(), s.kLen(), s.width());
        g.node("MultiHeadAttention").domain("com.microsoft").in("q", "k", "v").out("out")
                .attr("num_heads", s.heads()).add();
        g.output("out", ElementType.FLOAT, s.rows(), s.qLen(), s.width());
        return g.toBytes();
    }

    /** The in-graph way, node for node as {@code Layers.attention} wrote it before the contrib op. */
    static byte[] graphModel(Shape s) {
        GraphBuilder g = new GraphBuilder("unet_graph").opset("", 17);
        g.input("q", ElementType.FLOAT, s.rows(), s.qLen(), s.width());
        g.input("k", ElementType.FLOAT, s.rows(), s.kLen(), s.width());
        g.input("v", ElementType.FLOAT, s.rows(), s.kLen(), s.width());
        g.initializer("split", new long[] {0, 0, s.heads(), s.headDim()}, 4);
        g.initializer("merge", new long[] {0, 0, s.width()}, 3);
        g.initializer("scale", new float[] {(float) (1 / Math.sqrt(s.headDim()))});
        String qh = g.op("Transpose", g.op("Reshape", "q", "split").out1()).attr("perm", new long[] {0, 2, 1, 3})
                .out1();
        String kh = g.op("Transpose", g.op("Reshape", "k", "split").out1()).attr("perm", new long[] {0, 2, 3, 1})
                .out1();
        String vh = g.op("Transpose", g.op("Reshape", "v", "split").out1()).attr("perm", new long[] {0, 2, 1, 3})
                .out1();
        String scores = g.op("Mul", g.op("MatMul", qh, kh).out1(), "scale").out1();
        String p = g.op("Softmax", scores).attr("axis", -1).out1();
        String o = g.op("Transpose", g.op("MatMul", p, vh).out1()).attr("perm", new long[] {0, 2, 1, 3}).out1();
        g.node("Reshape").in(o, "merge").out("out").add();
        g.output("out", ElementType.FLOAT, s.rows(), s.qLen(), s.width());
        return g.toBytes();
    }

    private static void log(String format, Object... args) {
        System.err.println("[unet-attention] " + String.format(Locale.ROOT, format, args));
    }
}
