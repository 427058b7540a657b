package dev.tessera.gateway.metrics;

import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.core.JobEvent.FinishReason;
import dev.tessera.scheduler.core.JobEvent.Timings;
import dev.tessera.scheduler.core.JobEvent.Usage;
import dev.tessera.scheduler.core.ModelCard;
import dev.tessera.scheduler.core.ModelKind;
import dev.tessera.scheduler.core.ServingListener;
import dev.tessera.scheduler.detect.DetectStats;
import dev.tessera.scheduler.text.TextStats;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The serving metrics. Text models use the names Kubernetes inference routers and autoscalers read by default
 * (vLLM's): {@code vllm:num_requests_running}, {@code vllm:num_requests_waiting}, {@code vllm:kv_cache_usage_perc},
 * {@code vllm:cache_config_info} ({@code block_size}, {@code num_gpu_blocks} labels),
 * {@code vllm:time_to_first_token_seconds}, {@code vllm:inter_token_latency_seconds},
 * {@code vllm:time_per_output_token_seconds}, {@code vllm:e2e_request_latency_seconds},
 * {@code vllm:request_queue_time_seconds}, {@code vllm:iteration_tokens_total}, {@code vllm:num_preemptions_total},
 * {@code vllm:prefix_cache_queries_total}, {@code vllm:prefix_cache_hits_total}, {@code vllm:request_success_total},
 * {@code vllm:prompt_tokens_total}, {@code vllm:generation_tokens_total}; plus {@code tessera:batch_size}.
 * Detection models: {@code tessera:detect_streams}, {@code tessera:detect_frames_queued},
 * {@code tessera:detect_frames_answered_total}, {@code tessera:detect_frames_skipped_total},
 * {@code tessera:detect_frame_age_seconds} and {@code tessera:batch_size} (frames per step). Each series carries a
 * {@code model_name} label.
 *
 * <p>Registered straight on the Prometheus client's registry: Micrometer's naming convention would rewrite the
 * {@code :}. Gauges and totals read {@link JobService#stats} at scrape time; histograms are fed by listener
 * callbacks on the loop thread, which only record into lock-free buckets.
 */
public final class ServingMetrics implements ServingListener {
    private static final double[] LATENCY_BUCKETS = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
        0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
    private static final double[] TOKEN_BUCKETS = {1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
    private static final double[] SEQ_BUCKETS = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

    private final Map<String, TextSeries> text = new HashMap<>();
    private final Map<String, DistributionDataPoint> frameAge = new HashMap<>();
    private final Map<String, DistributionDataPoint> batchSize = new HashMap<>();

    /** Registers every series on {@code registry} for the models of {@code service}, and listens to it. */
    public static ServingMetrics register(PrometheusRegistry registry, JobService service) {
        ServingMetrics m = new ServingMetrics(registry, service);
        service.addListener(m);
        return m;
    }

    private ServingMetrics(PrometheusRegistry registry, JobService service) {
        List<ModelCard> models = service.models();
        Histogram batch = histogram("tessera:batch_size", "Sequences (text) or frames (detection) per step.",
                SEQ_BUCKETS).register(registry);
        for (ModelCard c : models) batchSize.put(c.name(), batch.labelValues(c.name()));
        if (models.stream().anyMatch(c -> c.kind() == ModelKind.TEXT_GENERATION)) {
            registerText(registry, service, models);
        }
        if (models.stream().anyMatch(c -> c.kind() == ModelKind.DETECTION)) {
            registerDetection(registry, service, models);
        }
    }

    private void registerText(PrometheusRegistry registry, JobService service, List<ModelCard> models) {
        List<String> names = models.stream().filter(c -> c.kind() == ModelKind.TEXT_GENERATION)
                .map(ModelCard::name).toList();
        GaugeWithCallback.builder().name("vllm:num_requests_running").help("Requests in the running batch.")
                .labelNames("model_name").callback(cb -> names.forEach(n -> cb.call(text(service, n).running(), n)))
                .register(registry);
        GaugeWithCallback.builder().name("vllm:num_requests_waiting").help("Requests waiting for admission.")
                .labelNames("model_name").callback(cb -> names.forEach(n -> cb.call(text(service, n).waiting(), n)))
                .register(registry);
        GaugeWithCallback.builder().name("tessera:num_requests_waiting_peak")
                .help("Most places ever held in the waiting queue at once (requests not yet running, preempted"
                        + " sequences): the high-water mark of what --max-waiting bounds, kept exactly by the scheduler.")
                .labelNames("model_name")
                .callback(cb -> names.forEach(n -> cb.call(text(service, n).waitingPeak(), n)))
                .register(registry);
        GaugeWithCallback.builder().name("vllm:kv_cache_usage_perc").help("Fraction of KV-cache blocks in use, 0..1.")
                .labelNames("model_name").callback(cb -> names.forEach(n -> cb.call(text(service, n).kvUsage(), n)))
                .register(registry);
        // vLLM's info series: value 1, the KV layout in labels; GIE's prefix-cache scorer reads block_size and
        // num_gpu_blocks from it (the model-server protocol's BlockSize and NumGPUBlocks).
        GaugeWithCallback.builder().name("vllm:cache_config_info").help("KV-cache configuration, in labels.")
                .labelNames("model_name", "block_size", "num_gpu_blocks")
                .callback(cb -> names.forEach(n -> {
                    TextStats s = text(service, n);
                    cb.call(1, n, Integer.toString(s.kvBlockSize()), Integer.toString(s.kvTotalBlocks()));
                })).register(registry);
        CounterWithCallback.builder().name("vllm:num_preemptions").help("Preemptions since start.")
                .labelNames("model_name")
                .callback(cb -> names.forEach(n -> cb.call(text(service, n).preemptions(), n))).register(registry);
        CounterWithCallback.builder().name("vllm:prefix_cache_queries")
                .help("Prompt tokens looked up in the prefix cache.").labelNames("model_name")
                .callback(cb -> names.forEach(n -> cb.call(text(service, n).prefixQueryTokens(), n)))
                .register(registry);
        CounterWithCallback.builder().name("vllm:prefix_cache_hits").help("Prompt tokens served from the prefix cache.")
                .labelNames("model_name")
                .callback(cb -> names.forEach(n -> cb.call(text(service, n).prefixHitTokens(), n)))
                .register(registry);
        Histogram ttft = histogram("vllm:time_to_first_token_seconds", "Time to first token.", LATENCY_BUCKETS)
                .register(registry);
        Histogram itl = histogram("vllm:inter_token_latency_seconds", "Gap between consecutive output tokens.",
                LATENCY_BUCKETS).register(registry);
        Histogram tpot = histogram("vllm:time_per_output_token_seconds",
                "Mean time per output token after the first, per request.", LATENCY_BUCKETS).register(registry);
        Histogram e2e = histogram("vllm:e2e_request_latency_seconds", "End-to-end request latency.",
                LATENCY_BUCKETS).register(registry);
        Histogram queue = histogram("vllm:request_queue_time_seconds", "Time waiting before first scheduled.",
                LATENCY_BUCKETS).register(registry);
        Histogram iteration = histogram("vllm:iteration_tokens_total", "Tokens packed per scheduler step.",
                TOKEN_BUCKETS).register(registry);
        Counter prompt = Counter.builder().withoutExemplars().name("vllm:prompt_tokens")
                .help("Prompt tokens processed.").labelNames("model_name").register(registry);
        Counter generation = Counter.builder().withoutExemplars().name("vllm:generation_tokens")
                .help("Output tokens generated.").labelNames("model_name").register(registry);
        Counter requests = Counter.builder().withoutExemplars().name("vllm:request_success")
                .help("Finished requests by reason.").labelNames("model_name", "finished_reason").register(registry);
        for (String n : names) {
            Map<FinishReason, CounterDataPoint> success = new EnumMap<>(FinishReason.class);
            for (FinishReason r : FinishReason.values()) {
                success.put(r, requests.labelValues(n, r.name().toLowerCase(Locale.ROOT)));
            }
            text.put(n, new TextSeries(ttft.labelValues(n), itl.labelValues(n), tpot.labelValues(n),
                    e2e.labelValues(n), queue.labelValues(n), iteration.labelValues(n), prompt.labelValues(n),
                    generation.labelValues(n), success));
        }
    }

    private void registerDetection(PrometheusRegistry registry, JobService service, List<ModelCard> models) {
        List<String> names = models.stream().filter(c -> c.kind() == ModelKind.DETECTION).map(ModelCard::name)
                .toList();
        GaugeWithCallback.builder().name("tessera:detect_streams").help("Live detection streams.")
                .labelNames("model_name").callback(cb -> names.forEach(n -> cb.call(detect(service, n).streams(), n)))
                .register(registry);
        GaugeWithCallback.builder().name("tessera:detect_frames_queued").help("Frames waiting for a step.")
                .labelNames("model_name").callback(cb -> names.forEach(n -> cb.call(detect(service, n).queued(), n)))
                .register(registry);
        CounterWithCallback.builder().name("tessera:detect_frames_answered").help("Frames answered.")
                .labelNames("model_name")
                .callback(cb -> names.forEach(n -> cb.call(detect(service, n).answered(), n))).register(registry);
        CounterWithCallback.builder().name("tessera:detect_frames_skipped")
                .help("Frames skipped because a newer frame of the same stream replaced them.")
                .labelNames("model_name")
                .callback(cb -> names.forEach(n -> cb.call(detect(service, n).skipped(), n))).register(registry);
        Histogram age = histogram("tessera:detect_frame_age_seconds",
                "From a frame's arrival to its answer.", LATENCY_BUCKETS).register(registry);
        for (String n : names) frameAge.put(n, age.labelValues(n));
    }

    private static Histogram.Builder histogram(String name, String help, double[] buckets) {
        return Histogram.builder().withoutExemplars().name(name).help(help).labelNames("model_name").classicOnly()
                .classicUpperBounds(buckets);
    }

    private static TextStats text(JobService service, String model) {
        return (TextStats) service.stats(model);
    }

    private static DetectStats detect(JobService service, String model) {
        return (DetectStats) service.stats(model);
    }

    @Override
    public void onStep(String model, ModelKind kind, int jobs, int tokens, long nanos) {
        DistributionDataPoint b = batchSize.get(model);
        if (b != null) b.observe(jobs);
        TextSeries t = text.get(model);
        if (t != null) t.iterationTokens.observe(tokens);
    }

    @Override
    public void onFrame(String model, double ageMs, int skipped) {
        DistributionDataPoint a = frameAge.get(model);
        if (a != null) a.observe(ageMs / 1e3);
    }

    @Override
    public void onFinished(String model, FinishReason reason, Usage usage, Timings timings) {
        TextSeries t = text.get(model);
        if (t == null) {
            return;
        }
        t.success.get(reason).inc();
        if (usage != null) {
            t.promptTokens.inc(usage.promptTokens());
            t.generationTokens.inc(usage.completionTokens());
        }
        if (timings == null) {
            return;
        }
        t.queue.observe(timings.queueMs() / 1e3);
        t.e2e.observe(timings.e2eMs() / 1e3);
        double[] gaps = timings.interTokenMs();
        if (usage != null && usage.completionTokens() > 0) {
            t.ttft.observe(timings.ttftMs() / 1e3);
        }
        if (gaps != null && gaps.length > 0) {
            double sum = 0;
            for (double g : gaps) {
                t.itl.observe(g / 1e3);
                sum += g;
            }
            t.tpot.observe(sum / gaps.length / 1e3);
        }
    }

    /** The series of one text model. */
    private record TextSeries(DistributionDataPoint ttft, DistributionDataPoint itl, DistributionDataPoint tpot,
                              DistributionDataPoint e2e, DistributionDataPoint queue,
                              DistributionDataPoint iterationTokens, CounterDataPoint promptTokens,
                              CounterDataPoint generationTokens, Map<FinishReason, CounterDataPoint> success) {
    }
}
