package dev.tessera.gateway.metrics;

import dev.tessera.scheduler.GenerationEvent.FinishReason;
import dev.tessera.scheduler.GenerationEvent.Timings;
import dev.tessera.scheduler.GenerationEvent.Usage;
import dev.tessera.scheduler.GenerationService;
import dev.tessera.scheduler.SchedulerListener;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * The serving metrics, under the names Kubernetes inference routers and autoscalers read by default (vLLM's):
 * {@code vllm:num_requests_running}, {@code vllm:num_requests_waiting}, {@code vllm:kv_cache_usage_perc},
 * {@code vllm:time_to_first_token_seconds}, {@code vllm:inter_token_latency_seconds},
 * {@code vllm:time_per_output_token_seconds}, {@code vllm:e2e_request_latency_seconds},
 * {@code vllm:request_queue_time_seconds}, {@code vllm:iteration_tokens_total}, {@code vllm:num_preemptions_total},
 * {@code vllm:prefix_cache_queries_total}, {@code vllm:prefix_cache_hits_total}, {@code vllm:request_success_total},
 * {@code vllm:prompt_tokens_total}, {@code vllm:generation_tokens_total}; plus {@code tessera:batch_size} (sequences
 * per step). Each carries a {@code model_name} label.
 *
 * <p>Registered straight on the Prometheus client's registry: Micrometer's naming convention would rewrite the
 * {@code :}. Gauges and totals read {@link GenerationService#stats()} at scrape time; histograms are fed by the
 * scheduler's listener callbacks, which only record into lock-free buckets.
 */
public final class ServingMetrics implements SchedulerListener {
    private static final double[] LATENCY_BUCKETS = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
        0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
    private static final double[] TOKEN_BUCKETS = {1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
    private static final double[] SEQ_BUCKETS = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

    private final DistributionDataPoint ttft;
    private final DistributionDataPoint itl;
    private final DistributionDataPoint tpot;
    private final DistributionDataPoint e2e;
    private final DistributionDataPoint queue;
    private final DistributionDataPoint iterationTokens;
    private final DistributionDataPoint batchSize;
    private final CounterDataPoint promptTokens;
    private final CounterDataPoint generationTokens;
    private final Map<FinishReason, CounterDataPoint> success = new EnumMap<>(FinishReason.class);

    /** Registers every series on {@code registry} for {@code service}, and listens to it. */
    public static ServingMetrics register(PrometheusRegistry registry, GenerationService service) {
        ServingMetrics m = new ServingMetrics(registry, service);
        service.addListener(m);
        return m;
    }

    private ServingMetrics(PrometheusRegistry registry, GenerationService service) {
        String model = service.model().name();
        GaugeWithCallback.builder().name("vllm:num_requests_running").help("Requests in the running batch.")
                .labelNames("model_name").callback(cb -> cb.call(service.stats().running(), model))
                .register(registry);
        GaugeWithCallback.builder().name("vllm:num_requests_waiting").help("Requests waiting for admission.")
                .labelNames("model_name").callback(cb -> cb.call(service.stats().waiting(), model))
                .register(registry);
        GaugeWithCallback.builder().name("vllm:kv_cache_usage_perc")
                .help("Fraction of KV-cache blocks in use, 0..1.")
                .labelNames("model_name").callback(cb -> cb.call(service.stats().kvUsage(), model))
                .register(registry);
        CounterWithCallback.builder().name("vllm:num_preemptions").help("Preemptions since start.")
                .labelNames("model_name").callback(cb -> cb.call(service.stats().preemptions(), model))
                .register(registry);
        CounterWithCallback.builder().name("vllm:prefix_cache_queries")
                .help("Prompt tokens looked up in the prefix cache.")
                .labelNames("model_name").callback(cb -> cb.call(service.stats().prefixQueryTokens(), model))
                .register(registry);
        CounterWithCallback.builder().name("vllm:prefix_cache_hits")
                .help("Prompt tokens served from the prefix cache.")
                .labelNames("model_name").callback(cb -> cb.call(service.stats().prefixHitTokens(), model))
                .register(registry);
        ttft = histogram(registry, "vllm:time_to_first_token_seconds", "Time to first token.", LATENCY_BUCKETS,
                model);
        itl = histogram(registry, "vllm:inter_token_latency_seconds", "Gap between consecutive output tokens.",
                LATENCY_BUCKETS, model);
        tpot = histogram(registry, "vllm:time_per_output_token_seconds",
                "Mean time per output token after the first, per request.", LATENCY_BUCKETS, model);
        e2e = histogram(registry, "vllm:e2e_request_latency_seconds", "End-to-end request latency.",
                LATENCY_BUCKETS, model);
        queue = histogram(registry, "vllm:request_queue_time_seconds", "Time waiting before first scheduled.",
                LATENCY_BUCKETS, model);
        iterationTokens = histogram(registry, "vllm:iteration_tokens_total", "Tokens packed per scheduler step.",
                TOKEN_BUCKETS, model);
        batchSize = histogram(registry, "tessera:batch_size", "Sequences per scheduler step.", SEQ_BUCKETS, model);
        promptTokens = Counter.builder().withoutExemplars().name("vllm:prompt_tokens").help("Prompt tokens processed.")
                .labelNames("model_name").register(registry).labelValues(model);
        generationTokens = Counter.builder().withoutExemplars().name("vllm:generation_tokens").help("Output tokens generated.")
                .labelNames("model_name").register(registry).labelValues(model);
        Counter requests = Counter.builder().withoutExemplars().name("vllm:request_success").help("Finished requests by reason.")
                .labelNames("model_name", "finished_reason").register(registry);
        for (FinishReason r : FinishReason.values()) {
            success.put(r, requests.labelValues(model, r.name().toLowerCase(Locale.ROOT)));
        }
    }

    private static DistributionDataPoint histogram(PrometheusRegistry registry, String name, String help,
                                                   double[] buckets, String model) {
        return Histogram.builder().withoutExemplars().name(name).help(help).labelNames("model_name").classicOnly()
                .classicUpperBounds(buckets).register(registry).labelValues(model);
    }

    @Override
    public void onStep(int numSeqs, int numTokens, long nanos) {
        iterationTokens.observe(numTokens);
        batchSize.observe(numSeqs);
    }

    @Override
    public void onFinished(FinishReason reason, Usage usage, Timings timings) {
        success.get(reason).inc();
        if (usage != null) {
            promptTokens.inc(usage.promptTokens());
            generationTokens.inc(usage.completionTokens());
        }
        if (timings == null) {
            return;
        }
        queue.observe(timings.queueMs() / 1e3);
        e2e.observe(timings.e2eMs() / 1e3);
        double[] gaps = timings.interTokenMs();
        if (usage != null && usage.completionTokens() > 0) {
            ttft.observe(timings.ttftMs() / 1e3);
        }
        if (gaps != null && gaps.length > 0) {
            double sum = 0;
            for (double g : gaps) {
                itl.observe(g / 1e3);
                sum += g;
            }
            tpot.observe(sum / gaps.length / 1e3);
        }
    }
}
