package dev.tessera.bench;

import dev.tessera.builtin.ModelRef;
import dev.tessera.engine.CacheDirs;
import dev.tessera.engine.diffusion.DiffusionEngine;
import dev.tessera.engine.diffusion.DiffusionOptions;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.diffuse.DiffuseConfig;
import dev.tessera.scheduler.diffuse.DiffuseRequest;
import dev.tessera.scheduler.diffuse.DiffuseStats;
import dev.tessera.scheduler.diffuse.DiffusionPipeline;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bench diffuse}: text-to-image jobs through the serving core ({@link Scheduler}, in process) on one loaded
 * pipeline, under two policies in one run, plus the cost of previews.
 *
 * <p><b>Workload.</b> {@code --jobs} jobs (8) arriving {@code --stagger-ms} apart, {@code --steps} steps each (20),
 * every other job with guidance 7.5 (two UNet rows per image) and the rest with guidance 1 (one row), the sizes of
 * {@code --sizes} in turn (two latent shapes). <b>batched</b>: every job is submitted at its arrival and the lane
 * batches the rows of all running jobs of a shape into one UNet call per step. <b>sequential</b>: one job at a time,
 * each submitted when it has arrived and the previous one has finished. Rounds alternate (batched, sequential, ...)
 * and are summed; each round gets a fresh scheduler over the same engine. {@code images_per_s}: images over the time
 * from the first arrival to the last image; {@code latency_ms}: from a job's arrival to its image. {@code ratio} =
 * batched / sequential images per second. {@code rows}: UNet rows computed and needed by the batched rounds (equal:
 * no padding). {@code preview_overhead_fraction}: a batched round with a preview every step against one without,
 * (with − without) / without. {@code unet_profile} ({@link UNetProfile}, measured first): one UNet call of 1, 2, 4
 * and 8 rows ({@code --profile-rows}) at each size, ms per call and per row, which says how much a batched step can
 * gain on this CPU; {@code --profile-only} runs just that. Progress goes to stderr; the last stdout line is one JSON
 * object.
 *
 * <p>The default model is {@code builtin:sd-bench} (SD 1.5's UNet structure at a fifth of its width, 8× VAE), at
 * 128×128 and 192×128 pixels (16×16 and 24×16 latents), where one row of one step takes tens of milliseconds here
 * (about 60 ms at 16×16 with the machine loaded by other builds; 270 ms at 32×32).
 */
@Command(name = "diffuse", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Diffusion: step-level batching vs one job at a time, and the cost of previews.")
public final class DiffuseBench implements Callable<Integer> {
    @Option(names = "--json", description = "Print only the JSON object (still the last stdout line either way).")
    boolean json;

    @Option(names = "--model", defaultValue = "builtin:sd-bench",
            description = "A diffusers pipeline directory or built-in (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--jobs", defaultValue = "8", description = "Jobs per round (default: ${DEFAULT-VALUE}).")
    int jobs;

    @Option(names = "--steps", defaultValue = "20", description = "Steps per job (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--stagger-ms", defaultValue = "50", description = "Between arrivals (default: ${DEFAULT-VALUE}).")
    long staggerMs;

    @Option(names = "--sizes", defaultValue = "128x128,192x128", split = ",",
            description = "Image sizes WxH, assigned to the jobs in turn (default: ${DEFAULT-VALUE}).")
    List<String> sizes;

    @Option(names = "--rounds", defaultValue = "2", description = "Rounds per policy (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime threads; 0 = all cores.")
    int threads;

    @Option(names = "--profile-rows", defaultValue = "1,2,4,8", split = ",",
            description = "Rows per UNet call in the profile (default: ${DEFAULT-VALUE}); empty = no profile.")
    List<Integer> profileRows;

    @Option(names = "--profile-only", description = "Run only the UNet profile (rows per call vs time).")
    boolean profileOnly;

    /** Runs with command-line arguments; returns the exit code. */
    public static int run(String... args) {
        return new CommandLine(new DiffuseBench()).execute(args);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** One round's outcome. */
    private record Round(double seconds, List<Double> latenciesMs, int images, DiffuseStats stats) {
    }

    @Override
    public Integer call() throws Exception {
        if (jobs < 1 || steps < 1 || rounds < 1 || sizes.isEmpty()) {
            throw new IllegalArgumentException("--jobs, --steps, --rounds and --sizes must be positive");
        }
        Path cache = CacheDirs.defaultDir();
        Path dir = new ModelRef(model).resolve(cache);
        int t = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        try (DiffusionEngine engine = DiffusionEngine.load(new DiffusionOptions(dir, cache, t,
                new ModelRef(model).servedName()))) {
            DiffusionPipeline pipeline = DiffusionPipeline.of(engine);
            List<Map<String, Object>> profile = UNetProfile.measure(engine, sizes, profileRows, DiffuseBench::log);
            if (profileOnly) {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("model", engine.info().name());
                result.put("unet_profile", profile);
                if (!json) System.out.println(Json.pretty(result));
                System.out.println(Json.write(result));
                return 0;
            }
            log("warm-up");
            round(pipeline, true, 0);
            double[] secs = new double[2];
            int[] images = new int[2];
            List<List<Double>> lat = List.of(new ArrayList<>(), new ArrayList<>());
            long computed = 0;
            long needed = 0;
            long stepCount = 0;
            for (int r = 0; r < rounds; r++) {
                for (int p = 0; p < 2; p++) {
                    Round res = round(pipeline, p == 0, 0);
                    secs[p] += res.seconds();
                    images[p] += res.images();
                    lat.get(p).addAll(res.latenciesMs());
                    if (p == 0) {
                        computed += res.stats().rowsComputed();
                        needed += res.stats().rowsNeeded();
                        stepCount += res.stats().steps();
                    }
                    log("round %d %s: %.2f s, %d images", r, p == 0 ? "batched" : "sequential", res.seconds(),
                            res.images());
                }
            }
            double off = 0;
            double on = 0;
            for (int r = 0; r < rounds; r++) {
                off += round(pipeline, true, 0).seconds();
                on += round(pipeline, true, 1).seconds();
            }
            Map<String, Object> batched = new LinkedHashMap<>();
            batched.put("images_per_s", round4(images[0] / secs[0]));
            batched.put("latency_ms", GenerateBench.percentiles(lat.get(0).stream().mapToDouble(d -> d).toArray()));
            batched.put("rows_per_step_mean", round4(stepCount == 0 ? 0 : (double) computed / stepCount));
            Map<String, Object> sequential = new LinkedHashMap<>();
            sequential.put("images_per_s", round4(images[1] / secs[1]));
            sequential.put("latency_ms", GenerateBench.percentiles(lat.get(1).stream().mapToDouble(d -> d).toArray()));
            Map<String, Object> policies = new LinkedHashMap<>();
            policies.put("batched", batched);
            policies.put("sequential", sequential);
            Map<String, Object> rows = new LinkedHashMap<>();
            rows.put("computed", computed);
            rows.put("needed", needed);
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("model", engine.info().name());
            result.put("policies", policies);
            result.put("ratio", round4((images[0] / secs[0]) / (images[1] / secs[1])));
            result.put("rows", rows);
            result.put("preview_overhead_fraction", round4((on - off) / off));
            result.put("unet_profile", profile);
            if (!json) System.out.println(Json.pretty(result));
            System.out.println(Json.write(result));
        }
        return 0;
    }

    /** One round: the workload under one policy, previews every {@code previewEvery} steps (0 = none). */
    private Round round(DiffusionPipeline pipeline, boolean batched, int previewEvery) throws InterruptedException {
        Scheduler s = Scheduler.builder().diffusion(pipeline, DiffuseConfig.DEFAULTS).build().start();
        try {
            List<Double> latencies = new ArrayList<>();
            CountDownLatch done = new CountDownLatch(jobs);
            long start = System.nanoTime();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            long[] finishedAt = new long[jobs];
            for (int j = 0; j < jobs; j++) {
                long arrival = start + TimeUnit.MILLISECONDS.toNanos(staggerMs * j);
                if (!batched && j > 0) {
                    // one job at a time: wait for the previous job's image
                    while (finishedAt[j - 1] == 0 && failure.get() == null) {
                        synchronized (finishedAt) {
                            finishedAt.wait(100);
                        }
                    }
                }
                long wait = arrival - System.nanoTime();
                if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
                String[] wh = sizes.get(j % sizes.size()).split("x");
                DiffuseRequest r = new DiffuseRequest("", "a red fox in the snow, job " + j, "blurry",
                        Integer.parseInt(wh[0]), Integer.parseInt(wh[1]), steps, j % 2 == 0 ? 7.5f : 1f, "euler",
                        (long) j, previewEvery, 1, null, null, false);
                int index = j;
                s.diffuse(r).subscribe(e -> {
                    if (e instanceof JobEvent.Image) {
                        long now = System.nanoTime();
                        synchronized (finishedAt) {
                            finishedAt[index] = now;
                            latencies.add((now - arrival) / 1e6);
                            finishedAt.notifyAll();
                        }
                    } else if (e instanceof JobEvent.Error err) {
                        failure.set(new IllegalStateException(err.failure().message()));
                        synchronized (finishedAt) {
                            finishedAt.notifyAll();
                        }
                    }
                }, failure::set, done::countDown);
            }
            if (!done.await(30, TimeUnit.MINUTES)) throw new IllegalStateException("the round did not finish");
            if (failure.get() != null) throw new IllegalStateException("a job failed", failure.get());
            long last = 0;
            for (long f : finishedAt) last = Math.max(last, f);
            return new Round((last - start) / 1e9, latencies, jobs,
                    (DiffuseStats) s.stats(pipeline.name()));
        } finally {
            s.close();
        }
    }

    private static double round4(double v) {
        return Math.round(v * 10_000.0) / 10_000.0;
    }

    static void log(String format, Object... args) {
        System.err.printf(Locale.ROOT, "[bench diffuse] " + format + "%n", args);
    }
}
