package dev.tessera.bench;

import dev.tessera.builtin.ModelRef;
import dev.tessera.engine.CacheDirs;
import dev.tessera.engine.image.DecodedImage;
import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.engine.vision.VisionEncoder;
import dev.tessera.engine.vision.VisionImage;
import dev.tessera.engine.vision.VisionModel;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.core.ImageData;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.text.BatchingPolicy;
import dev.tessera.scheduler.text.ChatMessage;
import dev.tessera.scheduler.text.EncoderStats;
import dev.tessera.scheduler.text.GenerateRequest;
import dev.tessera.scheduler.text.Sampling;
import dev.tessera.scheduler.text.TextConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * {@code bench vlm}: a vision-language model ({@code builtin:vlm-bench}, a random Qwen2-VL) on a seeded workload of
 * chat requests with 1-3 images each, 224-896 pixels a side in mixed aspect ratios, measured side by side in one
 * process:
 * <ul>
 *   <li>{@code encoder}: the vision tower over the workload's images in step-sized batches, packed with no padding
 *       (one attention span per image) against padded (every image of a batch padded to the batch's largest patch
 *       count and attending over it, as a naive batched encoder does), alternating batch by batch: mean time
 *       ratio, and the patches each computes against the patches needed;</li>
 *   <li>{@code encoder_cache}: the TTFT of a request whose image is already in the encoder-output cache against the
 *       same request cold (prefix caching off, so only the encoder cache differs);</li>
 *   <li>{@code generate}: output tokens/s of the workload under continuous batching against one request at a time
 *       ({@link BatchingPolicy#SEQUENTIAL}).</li>
 * </ul>
 * Progress on stderr; the last stdout line is one JSON object.
 */
@Command(name = "vlm", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Vision-language model: packed vs padded vision encoding, encoder-cache TTFT, continuous vs "
                + "sequential generation.")
public final class VlmBench implements Callable<Integer> {
    private static final Duration TIMEOUT = Duration.ofMinutes(30);

    @Option(names = "--json", description = "Print only the JSON object (still the last stdout line either way).")
    boolean json;

    @Option(names = "--model", defaultValue = "builtin:vlm-bench",
            description = "A Qwen2-VL checkpoint or built-in (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--requests", defaultValue = "16", description = "Requests (default: ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--output", defaultValue = "128", description = "Tokens per request (default: ${DEFAULT-VALUE}).")
    int output;

    @Option(names = "--encoder-budget", defaultValue = "8192",
            description = "Patches one step may encode, also the encoder benchmark's batch (default: ${DEFAULT-VALUE}).")
    int encoderBudget;

    @Option(names = "--trials", defaultValue = "2", description = "Trials of the encoder timing, packed and padded"
            + " alternating batch by batch; their means are compared (default: ${DEFAULT-VALUE}).")
    int trials;

    @Option(names = "--threads", defaultValue = "0", description = "Engine threads; 0 = all cores "
            + "(default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the workload (default: ${DEFAULT-VALUE}).")
    long seed;

    /** Runs with command-line arguments; returns the exit code. */
    public static int run(String... args) {
        return new CommandLine(new VlmBench()).execute(args);
    }

    /** One image of the workload: raw RGB8. */
    record Picture(int width, int height, byte[] rgb) {
        ImageData data() {
            return new ImageData(rgb, ImageData.Format.RGB8, width, height);
        }
    }

    @Override
    public Integer call() throws Exception {
        if (requests < 1 || output < 1 || trials < 1 || encoderBudget < 1) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--requests, --output, --trials and "
                    + "--encoder-budget must be >= 1");
        }
        TextEngineOptions options = TextEngineOptions.defaults(new ModelRef(model).resolve(CacheDirs.defaultDir()))
                .withName("vlm").withMaxBatchTokens(512).withMaxSeqs(32).withKvMemoryBytes(512L << 20);
        if (threads > 0) options = options.withThreads(threads);
        List<List<Picture>> workload = workload();
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("model", model);
        try (TextEngine engine = TextEngine.load(options, encoderBudget)) {
            VisionModel vision = engine.vision();
            if (vision == null) throw new IllegalArgumentException(model + " is not a vision-language model");
            if (vision.config().windows() != null) {
                // The padded baseline pads whole images; with windows (Qwen2.5-VL) it has no single meaning.
                throw new IllegalArgumentException(model + " has windowed vision attention (Qwen2.5-VL); this "
                        + "benchmark's padded baseline is defined for Qwen2-VL towers (builtin:vlm-bench)");
            }
            result.put("encoder", encoder(vision, workload));
            result.put("encoder_cache", encoderCache(engine, workload));
            result.put("generate", generate(engine, workload));
        }
        if (!json) System.out.println(Json.pretty(result));
        System.out.println(Json.write(result));
        return 0;
    }

    /** 1-3 images per request, each side in [224, 896], smooth gradients with noise so that no two are equal. */
    List<List<Picture>> workload() {
        Random rnd = new Random(seed);
        List<List<Picture>> out = new ArrayList<>();
        for (int r = 0; r < requests; r++) {
            List<Picture> pics = new ArrayList<>();
            int n = 1 + rnd.nextInt(3);
            for (int i = 0; i < n; i++) {
                int w = 224 + rnd.nextInt(673);
                int h = 224 + rnd.nextInt(673);
                byte[] rgb = new byte[w * h * 3];
                int base = rnd.nextInt(256);
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        int o = (y * w + x) * 3;
                        rgb[o] = (byte) (base + x * 255 / w);
                        rgb[o + 1] = (byte) (y * 255 / h + rnd.nextInt(16));
                        rgb[o + 2] = (byte) ((x + y) * 127 / (w + h) + base / 2);
                    }
                }
                pics.add(new Picture(w, h, rgb));
            }
            out.add(pics);
        }
        return out;
    }

    private Map<String, Object> encoder(VisionModel vision, List<List<Picture>> workload) {
        // the workload's images, prepared as the server does, in step-sized batches of at most the encoder budget
        List<List<VisionImage>> batches = new ArrayList<>();
        List<VisionImage> batch = new ArrayList<>();
        int patches = 0;
        long needed = 0;
        int images = 0;
        for (List<Picture> request : workload) {
            for (Picture p : request) {
                VisionImage im = vision.processor().prepare(new DecodedImage(p.rgb(), p.width(), p.height()));
                if (patches + im.numPatches() > encoderBudget && !batch.isEmpty()) {
                    batches.add(batch);
                    batch = new ArrayList<>();
                    patches = 0;
                }
                batch.add(im);
                patches += im.numPatches();
                needed += im.numPatches();
                images++;
            }
        }
        if (!batch.isEmpty()) batches.add(batch);
        VisionEncoder encoder = vision.encoder();
        // warm-up (ORT's first runs), and the buffers sized once for the largest padded batch, outside the timings
        List<VisionImage> largest = batches.get(0);
        for (List<VisionImage> b : batches) if (paddedRows(b) > paddedRows(largest)) largest = b;
        encoder.encode(batches.get(0));
        encoder.encodePadded(largest);
        // Packed and padded alternate batch by batch (and which goes first alternates too), so that a machine whose
        // speed drifts during the run (other work on shared cores) weighs on both alike; the sums over all trials
        // are compared.
        long packedNs = 0;
        long paddedNs = 0;
        long computed = 0;
        long padded = 0;
        for (int t = 0; t < trials; t++) {
            long trialPacked = 0;
            long trialPadded = 0;
            for (int i = 0; i < batches.size(); i++) {
                List<VisionImage> b = batches.get(i);
                boolean packedFirst = (t + i) % 2 == 0;
                for (int k = 0; k < 2; k++) {
                    boolean packed = (k == 0) == packedFirst;
                    long before = encoder.stats().patchesComputed();
                    long t0 = System.nanoTime();
                    if (packed) {
                        encoder.encode(b);
                        trialPacked += System.nanoTime() - t0;
                        if (t == 0) computed += encoder.stats().patchesComputed() - before;
                    } else {
                        long rows = encoder.encodePadded(b);
                        trialPadded += System.nanoTime() - t0;
                        if (t == 0) padded += rows;
                    }
                }
            }
            packedNs += trialPacked;
            paddedNs += trialPadded;
            System.err.printf(Locale.ROOT, "encoder trial %d: packed %.0f ms, padded %.0f ms%n", t, trialPacked / 1e6,
                    trialPadded / 1e6);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("images", images);
        m.put("batches", batches.size());
        m.put("trials", trials);
        m.put("packed_ms", round(packedNs / 1e6 / trials));
        m.put("padded_ms", round(paddedNs / 1e6 / trials));
        m.put("ratio", round((double) packedNs / paddedNs));
        m.put("patches_computed", computed);
        m.put("patches_needed", needed);
        m.put("padded_patches_computed", padded);
        return m;
    }

    private static long paddedRows(List<VisionImage> batch) {
        int max = 0;
        for (VisionImage im : batch) max = Math.max(max, im.numPatches());
        return (long) max * batch.size();
    }

    private static GenerateRequest chat(String id, List<Picture> pictures, String text, int maxTokens) {
        List<ChatMessage.Part> parts = new ArrayList<>();
        for (Picture p : pictures) parts.add(new ChatMessage.Part.Image(p.data()));
        parts.add(new ChatMessage.Part.Text(text));
        return GenerateRequest.ofMessages(id, List.of(new ChatMessage("user", parts, null)),
                Sampling.builder().maxTokens((long) maxTokens).ignoreEos(true).build());
    }

    private Map<String, Object> encoderCache(TextEngine engine, List<List<Picture>> workload) throws Exception {
        TextConfig config = TextConfig.defaults().withMaxNumSeqs(32).withMaxBatchTokens(512)
                .withPrefixCaching(false);
        int n = Math.min(3, workload.size());
        double[] cold = new double[n];
        double[] warm = new double[n];
        try (Scheduler s = Scheduler.builder().text(engine, config).build().start()) {
            // warm-up with an image of its own, so that the first cold request does not pay for first runs
            finished(s.generate(chat("warm-up", workload.get(workload.size() - 1).subList(0, 1), "Hi", 1)));
            for (int i = 0; i < n; i++) {
                List<Picture> one = workload.get(i).subList(0, 1);
                cold[i] = finished(s.generate(chat("cold-" + i, one, "What is in this picture?", 1)))
                        .timings().ttftMs();
                warm[i] = finished(s.generate(chat("warm-" + i, one, "What is in this picture?", 1)))
                        .timings().ttftMs();
                System.err.printf(Locale.ROOT, "encoder cache: image %d cold %.0f ms, cached %.0f ms%n", i, cold[i],
                        warm[i]);
            }
            EncoderStats es = s.textModel("vlm").encoderStats();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("cold_ttft_ms", round(median(cold)));
            m.put("cached_ttft_ms", round(median(warm)));
            m.put("ttft_ratio", round(median(warm) / median(cold)));
            m.put("cache_hits", es.cacheHits());
            return m;
        }
    }

    private Map<String, Object> generate(TextEngine engine, List<List<Picture>> workload) throws Exception {
        Map<String, Object> m = new LinkedHashMap<>();
        double continuous = 0;
        double sequential = 0;
        for (BatchingPolicy policy : List.of(BatchingPolicy.CONTINUOUS, BatchingPolicy.SEQUENTIAL)) {
            TextConfig config = TextConfig.defaults().withMaxNumSeqs(32).withMaxBatchTokens(512).withPolicy(policy);
            try (Scheduler s = Scheduler.builder().text(engine, config).build().start()) {
                List<Mono<List<JobEvent>>> all = new ArrayList<>();
                long t0 = System.nanoTime();
                for (int i = 0; i < workload.size(); i++) {
                    all.add(s.generate(chat("r" + i, workload.get(i), "Describe the pictures.", output))
                            .collectList());
                }
                List<List<JobEvent>> results = Flux.mergeSequential(all).collectList().block(TIMEOUT);
                double seconds = (System.nanoTime() - t0) / 1e9;
                long tokens = 0;
                for (List<JobEvent> events : results) {
                    for (JobEvent ev : events) {
                        if (ev instanceof JobEvent.Error e) throw new IllegalStateException(e.failure().toString());
                        if (ev instanceof JobEvent.Finished f) tokens += f.usage().completionTokens();
                    }
                }
                double rate = tokens / seconds;
                EncoderStats es = s.textModel("vlm").encoderStats();
                System.err.printf(Locale.ROOT, "%s: %d tokens in %.1f s = %.1f tokens/s; %d images, %d patches "
                                + "encoded in %d steps (at most %d a step), %d cache hits%n", policy, tokens, seconds,
                        rate, es.imagesEncoded(), es.patchesEncoded(), es.encoderSteps(), es.maxStepPatches(),
                        es.cacheHits());
                if (policy == BatchingPolicy.CONTINUOUS) continuous = rate;
                else sequential = rate;
            }
        }
        m.put("continuous_tokens_per_s", round(continuous));
        m.put("sequential_tokens_per_s", round(sequential));
        m.put("ratio", round(continuous / sequential));
        return m;
    }

    private static JobEvent.Finished finished(Flux<JobEvent> events) {
        for (JobEvent ev : events.collectList().block(TIMEOUT)) {
            if (ev instanceof JobEvent.Error e) throw new IllegalStateException(e.failure().toString());
            if (ev instanceof JobEvent.Finished f) return f;
        }
        throw new IllegalStateException("no Finished event");
    }

    private static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
