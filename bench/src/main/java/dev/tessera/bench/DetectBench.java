package dev.tessera.bench;

import dev.tessera.builtin.ModelRef;
import dev.tessera.engine.CacheDirs;
import dev.tessera.engine.detect.DetrEngine;
import dev.tessera.engine.detect.DetrOptions;
import dev.tessera.engine.detect.DetrStats;
import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.core.ImageData;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.ModelKind;
import dev.tessera.scheduler.core.ServingListener;
import dev.tessera.scheduler.detect.DetectConfig;
import dev.tessera.scheduler.detect.DetectFrame;
import dev.tessera.scheduler.detect.DetectModel;
import dev.tessera.scheduler.detect.DetrDetector;
import java.awt.Color;
import java.awt.GradientPaint;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.imageio.ImageIO;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import reactor.core.publisher.Sinks;

/**
 * {@code bench detect}: detection streams through the serving core ({@link Scheduler} as a {@link JobService}, in
 * process) on one loaded DETR, under two policies in one run, plus an overload phase.
 *
 * <p><b>Workload.</b> {@code --streams} concurrent streams (16), each sending JPEG frames of one of three sizes
 * (640×480, 480×640, 800×600 by default; different content per stream, encoded once). In a policy round every stream
 * sends its {@code --frames} frames closed loop: the next frame as soon as the previous one is answered, so the
 * server runs at saturation. <b>batched</b> batches across streams up to 16 frames per step (the backbone once per
 * same-size group, the transformer packed over all frames); <b>batch1</b> runs one frame per step. Rounds alternate
 * (batched, batch1, batched, ...) and are summed, so drift on a shared machine favours neither; each round gets a
 * fresh scheduler over the same engine. {@code latency_ms}: from sending a frame to receiving its answer.
 * {@code ratio} = batched / batch1 frames per second.
 *
 * <p><b>Overload.</b> Then, with the batched policy, the streams send open loop at a fixed rate each, together
 * {@code --overload-factor} (2) times what the server can serve: the better of the two policies' throughput just
 * measured (on a CPU, where batching gains little, the closed-loop batched figure can be the lower one, and twice it
 * would not overload the server). After two full steps' worth of settling (the steps grow from the idle server's
 * small ones to full ones), {@code --overload-seconds} (30) are measured. {@code frame_age_ms}: how old each answered
 * frame sent in that window is when its answer leaves (the server's arrival-to-answer time); {@code step_ms_p50}: the
 * median time of the steps in that window; {@code skipped}: frames dropped unanswered because a newer frame of the
 * same stream replaced them, and {@code answered}, over the whole phase. With the newest frame winning no queue
 * grows, so a frame waits at most for the step running when it arrives and then runs in the next one.
 *
 * <p>{@code tokens}: transformer rows computed and needed (equal: frames are packed, never padded). Each policy also
 * reports where step time goes ({@code time_ms_per_frame}: backbone, encoder, decoder, attention, and the rest of the
 * step) and how many frames a step carried. Progress goes to stderr; the last stdout line is one JSON object.
 */
@Command(name = "detect", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Detection streams: cross-stream micro-batching vs one frame per step, and an overload phase.")
public final class DetectBench implements Callable<Integer> {
    /** Frames per step of the batched policy (the budget). */
    static final int BATCHED_FRAMES_PER_STEP = 16;

    @Option(names = "--json", description = "Print only the JSON object (still the last stdout line either way).")
    boolean json;

    @Option(names = "--model", defaultValue = "builtin:detr-bench",
            description = "A DETR checkpoint or built-in (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--streams", defaultValue = "16", description = "Concurrent streams (default: ${DEFAULT-VALUE}).")
    int streams;

    @Option(names = "--frames", defaultValue = "4",
            description = "Frames per stream per policy round (default: ${DEFAULT-VALUE}).")
    int frames;

    @Option(names = "--rounds", defaultValue = "2",
            description = "Rounds per policy, alternating batched and batch1 (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--sizes", defaultValue = "640x480,480x640,800x600", split = ",",
            description = "Frame sizes WxH, assigned to the streams in turn (default: ${DEFAULT-VALUE}).")
    List<String> sizes;

    @Option(names = "--overload-seconds", defaultValue = "30",
            description = "Measured length of the overload phase, after it settles; 0 skips it "
                    + "(default: ${DEFAULT-VALUE}).")
    double overloadSeconds;

    @Option(names = "--overload-factor", defaultValue = "2",
            description = "Offered rate in the overload phase over the best measured throughput "
                    + "(default: ${DEFAULT-VALUE}).")
    double overloadFactor;

    @Option(names = "--threads", defaultValue = "0",
            description = "Engine threads (ONNX Runtime and attention); 0 = all cores (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the frames' content (default: ${DEFAULT-VALUE}).")
    long seed;

    /** Runs with command-line arguments; returns the exit code. */
    public static int run(String... args) {
        return new CommandLine(new DetectBench()).execute(args);
    }

    @Override
    public Integer call() throws Exception {
        if (streams < 1 || frames < 1 || rounds < 1 || sizes.isEmpty() || overloadSeconds < 0
                || !(overloadFactor > 0)) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--streams, --frames, --rounds must be "
                    + ">= 1, --overload-seconds >= 0, --overload-factor > 0, and --sizes non-empty");
        }
        Map<String, Object> result = measure();
        if (!json) System.out.println(Json.pretty(result));
        System.out.println(Json.write(result));
        return 0;
    }

    /** A stream's frame: its size and its JPEG bytes, encoded once. */
    record Source(int width, int height, byte[] jpeg) {
        DetectFrame frame(long id) {
            return new DetectFrame("", id, new ImageData(jpeg, ImageData.Format.JPEG, width, height), null, null,
                    List.of());
        }
    }

    /** What one closed-loop round measured. */
    record Round(int frames, long nanos, double[] latencyMs, List<long[]> steps, DetrStats spent) {
    }

    Map<String, Object> measure() throws Exception {
        System.setProperty("java.awt.headless", System.getProperty("java.awt.headless", "true"));
        ModelRef ref = new ModelRef(model);
        int cores = Runtime.getRuntime().availableProcessors();
        int engineThreads = threads > 0 ? threads : cores;
        DetrOptions options = DetrOptions.defaults(ref.resolve(CacheDirs.defaultDir())).withName(ref.servedName())
                .withThreads(engineThreads).withMaxFramesPerStep(BATCHED_FRAMES_PER_STEP);
        List<Source> sources = sources();
        Map<String, Object> out = new LinkedHashMap<>();
        log("loading %s (%d threads)", model, engineThreads);
        try (DetrEngine engine = DetrEngine.load(options)) {
            Map<String, Object> wl = new LinkedHashMap<>();
            wl.put("model", model);
            wl.put("preprocessing", engine.info().preprocessing());
            wl.put("streams", streams);
            wl.put("frames_per_stream_per_round", frames);
            wl.put("rounds_per_policy", rounds);
            wl.put("sizes", sizes);
            wl.put("threads", engineThreads);
            wl.put("cores", cores);
            wl.put("batched_max_frames_per_step", BATCHED_FRAMES_PER_STEP);

            log("warm-up");
            closedLoop(engine, BATCHED_FRAMES_PER_STEP, sources, 1);
            closedLoop(engine, 1, sources.subList(0, Math.min(sources.size(), sizes.size())), 1);

            List<Round> batched = new ArrayList<>();
            List<Round> batch1 = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                log("round %d/%d: batched", r + 1, rounds);
                batched.add(closedLoop(engine, BATCHED_FRAMES_PER_STEP, sources, frames));
                log("round %d/%d: batch1", r + 1, rounds);
                batch1.add(closedLoop(engine, 1, sources, frames));
            }
            Map<String, Object> policies = new LinkedHashMap<>();
            Map<String, Object> b = summary("batched", batched);
            Map<String, Object> one = summary("batch1", batch1);
            policies.put("batched", b);
            policies.put("batch1", one);
            double batchedFps = (double) b.get("frames_per_s");
            double batch1Fps = (double) one.get("frames_per_s");
            double ratio = batchedFps / batch1Fps;
            log("ratio (batched / batch1 frames/s): %.3f", ratio);

            double capacity = Math.max(batchedFps, batch1Fps);
            Map<String, Object> overload = overloadSeconds > 0
                    ? overload(engine, sources, capacity, capacity * overloadFactor) : Map.of();

            Map<String, Object> tokens = new LinkedHashMap<>();
            tokens.put("computed", engine.tokensComputed());
            tokens.put("needed", engine.tokensNeeded());
            out.put("workload", wl);
            out.put("policies", policies);
            out.put("ratio", round(ratio));
            out.put("tokens", tokens);
            out.put("overload", overload);
            if (engine.openNativeTensors() != 0) log("warning: %d native tensors open", engine.openNativeTensors());
        }
        return out;
    }

    /** One JPEG per stream: the stream's size in turn, and content of its own. */
    private List<Source> sources() {
        List<Source> out = new ArrayList<>();
        for (int s = 0; s < streams; s++) {
            String[] wh = sizes.get(s % sizes.size()).trim().toLowerCase(Locale.ROOT).split("x");
            if (wh.length != 2) throw new IllegalArgumentException("a size is WxH, got " + sizes.get(s % sizes.size()));
            int w = Integer.parseInt(wh[0]);
            int h = Integer.parseInt(wh[1]);
            out.add(new Source(w, h, jpeg(picture(w, h, new Random(seed + s)))));
        }
        return out;
    }

    private static BufferedImage picture(int w, int h, Random rnd) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setPaint(new GradientPaint(0, 0, new Color(rnd.nextInt(1 << 24)), w, h, new Color(rnd.nextInt(1 << 24))));
            g.fillRect(0, 0, w, h);
            for (int i = 0; i < 12; i++) {
                g.setColor(new Color(rnd.nextInt(1 << 24)));
                int x = rnd.nextInt(w);
                int y = rnd.nextInt(h);
                int bw = 8 + rnd.nextInt(Math.max(1, w / 3));
                int bh = 8 + rnd.nextInt(Math.max(1, h / 3));
                if (i % 2 == 0) g.fillRect(x, y, bw, bh); else g.fillOval(x, y, bw, bh);
            }
        } finally {
            g.dispose();
        }
        return img;
    }

    private static byte[] jpeg(BufferedImage img) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            if (!ImageIO.write(img, "jpeg", bytes)) throw new IllegalStateException("no JPEG writer");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /**
     * One closed-loop round on a fresh scheduler: every stream sends {@code perStream} frames, each as soon as the
     * previous one is answered.
     */
    private Round closedLoop(DetrEngine engine, int framesPerStep, List<Source> sources, int perStream)
            throws InterruptedException {
        StepProbe probe = new StepProbe();
        DetrStats before = engine.stats();
        try (Scheduler scheduler = scheduler(engine, framesPerStep, probe)) {
            int n = sources.size();
            CountDownLatch done = new CountDownLatch(n);
            AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
            double[] latency = new double[n * perStream];
            long t0 = System.nanoTime();
            for (int s = 0; s < n; s++) {
                new ClosedLoopStream(sources.get(s), perStream, latency, s * perStream, failure, done)
                        .start(scheduler);
            }
            awaitStreams(done, failure, scheduler, engine.info().name());
            long t1 = System.nanoTime();
            return new Round(n * perStream, t1 - t0, latency, probe.steps(Long.MIN_VALUE, Long.MAX_VALUE),
                    minus(engine.stats(), before));
        }
    }

    private static Scheduler scheduler(DetrEngine engine, int framesPerStep, ServingListener probe) {
        return Scheduler.builder()
                .detector(new DetrDetector(engine), DetectConfig.defaults().withMaxFramesPerStep(framesPerStep))
                .listener(probe).build().start();
    }

    private static void awaitStreams(CountDownLatch done, AtomicReference<@Nullable Throwable> failure,
                                     Scheduler scheduler, String name) throws InterruptedException {
        long lastLog = System.nanoTime();
        while (!done.await(1, TimeUnit.SECONDS)) {
            if (failure.get() != null) break;
            if (System.nanoTime() - lastLog > 15_000_000_000L) {
                log("  %d streams running, %s", done.getCount(), scheduler.stats(name));
                lastLog = System.nanoTime();
            }
        }
        Throwable t = failure.get();
        if (t != null) throw new IllegalStateException("a detection stream failed: " + t.getMessage(), t);
    }

    private Map<String, Object> summary(String policy, List<Round> rs) {
        long frameCount = 0;
        long nanos = 0;
        List<Double> lat = new ArrayList<>();
        List<long[]> steps = new ArrayList<>();
        DetrStats spent = new DetrStats(0, 0, 0, 0, 0, 0, 0, 0);
        for (Round r : rs) {
            frameCount += r.frames();
            nanos += r.nanos();
            for (double v : r.latencyMs()) lat.add(v);
            steps.addAll(r.steps());
            spent = plus(spent, r.spent());
        }
        double fps = frameCount / (nanos / 1e9);
        double[] stepMs = new double[steps.size()];
        long stepNanos = 0;
        long stepFrames = 0;
        for (int i = 0; i < steps.size(); i++) {
            stepMs[i] = steps.get(i)[1] / 1e6;
            stepNanos += steps.get(i)[1];
            stepFrames += steps.get(i)[0];
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("frames_per_s", round(fps));
        m.put("latency_ms", GenerateBench.percentiles(lat.stream().mapToDouble(Double::doubleValue).toArray()));
        m.put("frames", frameCount);
        m.put("wall_s", round(nanos / 1e9));
        m.put("steps", steps.size());
        m.put("mean_frames_per_step", round(steps.isEmpty() ? 0 : (double) stepFrames / steps.size()));
        m.put("step_ms_p50", round(median(stepMs)));
        m.put("time_ms_per_frame", split(spent, stepNanos));
        log("%s: %.3f frames/s over %d frames, latency p50 %s ms, %d steps (%.2f frames each), per frame %s",
                policy, fps, frameCount, ((Map<?, ?>) m.get("latency_ms")).get("p50"), steps.size(),
                steps.isEmpty() ? 0 : (double) stepFrames / steps.size(), m.get("time_ms_per_frame"));
        return m;
    }

    /** Where step time went, per frame: the engine's parts, and the rest of the step (packing, post-processing). */
    private static Map<String, Object> split(DetrStats s, long stepNanos) {
        double f = Math.max(1, s.frames()) * 1e6;
        long parts = s.backboneNanos() + s.encoderNanos() + s.decoderNanos() + s.attentionNanos();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("backbone", round(s.backboneNanos() / f));
        m.put("encoder", round(s.encoderNanos() / f));
        m.put("decoder", round(s.decoderNanos() / f));
        m.put("attention", round(s.attentionNanos() / f));
        m.put("rest_of_step", round(Math.max(0, stepNanos - parts) / f));
        m.put("backbone_fraction", round(stepNanos == 0 ? 0 : (double) s.backboneNanos() / stepNanos));
        return m;
    }

    /**
     * Open loop on the batched policy: each stream sends at a fixed rate, together {@code offeredFps} (a multiple of
     * {@code capacityFps}, the best throughput measured). The first two full steps' worth of time (every stream's
     * frame in one step, at the measured capacity) let the steps grow from the idle server's small ones to the
     * steady state; then {@code --overload-seconds} are measured: the age of every answered frame sent in that window,
     * and the steps that ran in it. Then the streams end and their last frames are answered. {@code offered},
     * {@code answered} and {@code skipped} count the whole phase.
     */
    private Map<String, Object> overload(DetrEngine engine, List<Source> sources, double capacityFps,
                                         double offeredFps) throws InterruptedException {
        int n = sources.size();
        long period = Math.max(1, (long) (n / offeredFps * 1e9));
        long settle = (long) (2 * n / capacityFps * 1e9);
        long window = (long) (overloadSeconds * 1e9);
        log("overload: %d streams, each a frame every %.1f ms (%.2f frames/s offered in all); %.1f s to settle, "
                + "then %.0f s measured", n, period / 1e6, offeredFps, settle / 1e9, overloadSeconds);
        StepProbe probe = new StepProbe();
        int perStream = (int) ((settle + window) / period) + 8;
        long[][] sentAt = new long[n][perStream];
        List<Double> ages = new ArrayList<>();
        long[] counts = new long[2]; // answered, skipped
        long[] offered = new long[1];
        long[] windowStart = {Long.MAX_VALUE};
        AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
        long stop;
        try (Scheduler scheduler = scheduler(engine, BATCHED_FRAMES_PER_STEP, probe)) {
            CountDownLatch done = new CountDownLatch(n);
            List<Sinks.Many<DetectFrame>> sinks = new ArrayList<>();
            for (int s = 0; s < n; s++) {
                Sinks.Many<DetectFrame> sink = Sinks.many().unicast().onBackpressureBuffer();
                sinks.add(sink);
                long[] sent = sentAt[s];
                scheduler.detect(sink.asFlux()).subscribe(e -> {
                    if (e instanceof JobEvent.Detections d) {
                        synchronized (ages) {
                            if (sent[(int) d.frameId()] >= windowStart[0]) ages.add(d.e2eMs());
                            counts[0]++;
                            counts[1] += d.skippedFrames();
                        }
                    } else if (e instanceof JobEvent.Error err) {
                        failure.compareAndSet(null, err.failure().exception());
                    }
                }, t -> {
                    failure.compareAndSet(null, t);
                    done.countDown();
                }, done::countDown);
            }
            ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "bench-detect-sender");
                t.setDaemon(true);
                return t;
            });
            long start = System.nanoTime();
            synchronized (ages) {
                windowStart[0] = start + settle;
            }
            for (int s = 0; s < n; s++) {
                Sinks.Many<DetectFrame> sink = sinks.get(s);
                Source src = sources.get(s);
                long[] sent = sentAt[s];
                int[] next = {0};
                // staggered starts spread the arrivals evenly over each period
                timer.scheduleAtFixedRate(() -> {
                    if (next[0] >= sent.length) return;
                    synchronized (ages) {
                        sent[next[0]] = System.nanoTime();
                        offered[0]++;
                    }
                    sink.tryEmitNext(src.frame(next[0]++)).orThrow();
                }, period * s / n, period, TimeUnit.NANOSECONDS);
            }
            boolean failed = failure.get() != null;
            long end = start + settle + window;
            while (!failed && System.nanoTime() < end) {
                Thread.sleep(Math.max(1, Math.min(1000, (end - System.nanoTime()) / 1_000_000)));
                failed = failure.get() != null;
            }
            timer.shutdown();
            if (!timer.awaitTermination(30, TimeUnit.SECONDS)) throw new IllegalStateException("sender stuck");
            stop = System.nanoTime();
            for (Sinks.Many<DetectFrame> sink : sinks) sink.tryEmitComplete();
            awaitStreams(done, failure, scheduler, engine.info().name());
        }
        double[] age;
        synchronized (ages) {
            age = ages.stream().mapToDouble(Double::doubleValue).toArray();
        }
        List<long[]> steps = probe.steps(windowStart[0], stop);
        double[] stepMs = new double[steps.size()];
        long stepFrames = 0;
        for (int i = 0; i < steps.size(); i++) {
            stepMs[i] = steps.get(i)[1] / 1e6;
            stepFrames += steps.get(i)[0];
        }
        Map<String, Object> ageP = GenerateBench.percentiles(age);
        double stepP50 = median(stepMs);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("frame_age_ms", ageP);
        m.put("skipped", counts[1]);
        m.put("answered", counts[0]);
        m.put("step_ms_p50", round(stepP50));
        m.put("offered", offered[0]);
        m.put("capacity_frames_per_s", round(capacityFps));
        m.put("offered_frames_per_s", round(offeredFps));
        m.put("settle_s", round(settle / 1e9));
        m.put("measured_s", overloadSeconds);
        m.put("measured_frames", age.length);
        m.put("measured_steps", steps.size());
        m.put("mean_frames_per_step", round(steps.isEmpty() ? 0 : (double) stepFrames / steps.size()));
        m.put("age_p99_over_step_p50", round(stepP50 == 0 ? 0 : (double) ageP.get("p99") / stepP50));
        log("overload: %d offered, %d answered, %d skipped; in the measured window: frame age p50 %s ms, p99 %s ms "
                + "over %d frames, step p50 %.1f ms over %d steps (%.2f frames each)", offered[0], counts[0],
                counts[1], ageP.get("p50"), ageP.get("p99"), age.length, stepP50, steps.size(),
                steps.isEmpty() ? 0 : (double) stepFrames / steps.size());
        return m;
    }

    /** A stream that sends its next frame when the previous one is answered, timing each from send to answer. */
    private static final class ClosedLoopStream {
        private final Source source;
        private final int total;
        private final double[] latency;
        private final int offset;
        private final AtomicReference<@Nullable Throwable> failure;
        private final CountDownLatch done;
        private final Sinks.Many<DetectFrame> frames = Sinks.many().unicast().onBackpressureBuffer();
        private int sent;
        private long sentNanos;

        ClosedLoopStream(Source source, int total, double[] latency, int offset,
                         AtomicReference<@Nullable Throwable> failure, CountDownLatch done) {
            this.source = source;
            this.total = total;
            this.latency = latency;
            this.offset = offset;
            this.failure = failure;
            this.done = done;
        }

        void start(JobService service) {
            sendNext();
            service.detect(frames.asFlux()).subscribe(this::onEvent, t -> {
                failure.compareAndSet(null, t);
                done.countDown();
            }, done::countDown);
        }

        private void onEvent(JobEvent e) {
            if (e instanceof JobEvent.Detections) {
                latency[offset + sent - 1] = (System.nanoTime() - sentNanos) / 1e6;
                if (sent < total) {
                    sendNext();
                } else {
                    frames.tryEmitComplete();
                }
            } else if (e instanceof JobEvent.Error err) {
                failure.compareAndSet(null, err.failure().exception());
            }
        }

        private void sendNext() {
            sentNanos = System.nanoTime();
            frames.tryEmitNext(source.frame(sent++)).orThrow();
        }
    }

    /** Records each step of the detection lane: {frames, nanos, end time}. Called on the loop thread. */
    private static final class StepProbe implements ServingListener {
        private final List<long[]> steps = new ArrayList<>();

        @Override
        public synchronized void onStep(String model, ModelKind kind, int jobs, int tokens, long nanos) {
            if (kind == ModelKind.DETECTION) steps.add(new long[] {jobs, nanos, System.nanoTime()});
        }

        /** The steps that started at or after {@code from} and ended at or before {@code until}. */
        synchronized List<long[]> steps(long from, long until) {
            List<long[]> out = new ArrayList<>();
            for (long[] s : steps) if (s[2] - s[1] >= from && s[2] <= until) out.add(s);
            return out;
        }
    }

    private static DetrStats minus(DetrStats a, DetrStats b) {
        return new DetrStats(a.steps() - b.steps(), a.frames() - b.frames(), a.tokensComputed() - b.tokensComputed(),
                a.tokensNeeded() - b.tokensNeeded(), a.backboneNanos() - b.backboneNanos(),
                a.encoderNanos() - b.encoderNanos(), a.decoderNanos() - b.decoderNanos(),
                a.attentionNanos() - b.attentionNanos());
    }

    private static DetrStats plus(DetrStats a, DetrStats b) {
        return new DetrStats(a.steps() + b.steps(), a.frames() + b.frames(), a.tokensComputed() + b.tokensComputed(),
                a.tokensNeeded() + b.tokensNeeded(), a.backboneNanos() + b.backboneNanos(),
                a.encoderNanos() + b.encoderNanos(), a.decoderNanos() + b.decoderNanos(),
                a.attentionNanos() + b.attentionNanos());
    }

    private static double median(double[] v) {
        if (v.length == 0) return 0;
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double round(double v) {
        return Math.round(v * 10_000.0) / 10_000.0;
    }

    private static void log(String format, Object... args) {
        System.err.printf(Locale.ROOT, "[bench detect] " + format + "%n", args);
    }
}
