package dev.tessera.gateway.launch;

import dev.tessera.engine.CacheDirs;
import dev.tessera.engine.CheckpointKind;
import dev.tessera.engine.detect.DetrOptions;
import dev.tessera.engine.diffusion.DiffusionOptions;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.engine.text.quant.WeightQuantization;
import dev.tessera.kvcache.KvDType;
import dev.tessera.gateway.GatewayOptions;
import dev.tessera.gateway.ModelSpec;
import dev.tessera.gateway.TesseraServer;
import dev.tessera.gateway.edge.ApiKeys;
import dev.tessera.gateway.edge.EdgeOptions;
import dev.tessera.gateway.edge.OriginPolicy;
import dev.tessera.gateway.edge.QuotaLimits;
import dev.tessera.gateway.edge.UploadRate;
import dev.tessera.gateway.edge.TlsOptions;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.core.ModelCard;
import dev.tessera.scheduler.detect.DetectConfig;
import dev.tessera.scheduler.diffuse.DiffuseConfig;
import dev.tessera.scheduler.text.TextConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code serve}: loads the models, serves them until SIGTERM / SIGINT, then drains gracefully. The server image's
 * entry point ({@link ServerMain}) and {@code bin/engine serve} both run it; they differ in their
 * {@link ModelResolver} (the CLI adds the built-in models).
 */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Serves the models over gRPC (h2c) with reflection, health and /metrics on one port.",
            "Every option can also come from a properties file (--config), keyed by the long option name without "
                + "dashes, e.g. 'port=9000' or 'kv-memory=1GiB'. Flags win over the file."})
public final class ServeCommand implements Callable<Integer> {
    private final ModelResolver resolver;

    /** @param resolver turns {@code --model} values into checkpoint directories */
    public ServeCommand(ModelResolver resolver) {
        this.resolver = resolver;
    }

    @Option(names = "--config", paramLabel = "FILE", description = "Properties file with option defaults.")
    Path config;

    @Option(names = "--host", defaultValue = "0.0.0.0", description = "Interface to bind (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "TCP port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--model", split = ",", paramLabel = "MODEL",
            description = "A model to serve; repeat it (or separate with commas) to serve several. A Hugging Face "
                    + "checkpoint directory (a Llama, Mistral, Qwen2 or Qwen3 decoder, "
                    + "Qwen2VLForConditionalGeneration, Qwen2_5_VLForConditionalGeneration, the dense "
                    + "Qwen3VLForConditionalGeneration, or "
                    + "DetrForObjectDetection) or a diffusers Stable Diffusion pipeline; bin/engine also takes the "
                    + "built-ins builtin:tiny, builtin:bench (text), builtin:vlm-tiny, builtin:vlm-bench (text and "
                    + "images), builtin:detr-tiny, builtin:detr-bench (detection), builtin:sd-tiny (diffusion) and "
                    + "serves builtin:tiny, builtin:vlm-tiny, builtin:detr-tiny and builtin:sd-tiny when none is "
                    + "given. The first model of each kind is its default.")
    List<String> models = new ArrayList<>();

    @Option(names = "--controlnet", paramLabel = "PATH",
            description = "A diffusers ControlNetModel directory (config.json + safetensors) attached to the first "
                    + "diffusion pipeline served, in place of its own controlnet/ folder if it has one; requests then "
                    + "take control_image and control_scale. builtin:sd-tiny carries its own.")
    Path controlNet;

    @Option(names = "--kv-memory", defaultValue = "256MiB", converter = ByteSize.class,
            description = "KV-cache memory budget, e.g. 512MiB, 2GiB (default: ${DEFAULT-VALUE}).")
    long kvMemory;

    @Option(names = "--block-size", defaultValue = "16", description = "Tokens per KV block (default: ${DEFAULT-VALUE}).")
    int blockSize;

    @Option(names = "--threads", defaultValue = "0", description = "Compute threads; 0 = all cores.")
    int threads;

    @Option(names = "--cache-dir", description = "Where converted graphs are cached (default: $TESSERA_HOME or "
            + "~/.cache/tessera).")
    Path cacheDir;

    @Option(names = "--quantize", defaultValue = "none", paramLabel = "none|int8|int4[:BLOCK][:asym]",
            converter = QuantizationSpec.class,
            description = "Text models' linear layers as block-quantized integers (ORT MatMulNBits), converted from "
                    + "the fp32/fp16/bf16 checkpoint and cached per setting; block 32 (or 64, 128), symmetric unless "
                    + ":asym. lm_head is 8-bit, embeddings stay fp32 (default: ${DEFAULT-VALUE}).")
    WeightQuantization quantize;

    @Option(names = "--kv-dtype", defaultValue = "fp32", paramLabel = "fp32|bf16|fp16|int8",
            converter = KvDtypeSpec.class,
            description = "Text models: how the KV cache stores keys and values. bf16 or fp16 halve the bytes per"
                    + " token, so --kv-memory holds twice the tokens and a decode reads half the bytes; writes round"
                    + " to nearest even. int8 stores a byte per element and an fp32 scale per token and KV head"
                    + " (3.9x fp32's tokens at head dim 128), the least exact of the four. Attention still computes"
                    + " in fp32 (default: ${DEFAULT-VALUE}).")
    KvDType kvDtype;

    @Option(names = "--batch-invariant", description = "Text models: a token's logits are bit-identical however it is"
            + " computed (decode, prefill chunk, recomputation), so a seeded stream resumed on another replica"
            + " (resume_token_ids) or recomputed after a preemption continues exactly; decode attention then uses"
            + " the prefill tiles (vLLM's batch-invariant mode makes the same trade).")
    boolean batchInvariant;

    @Option(names = "--max-model-len", defaultValue = "0",
            description = "Positions per sequence, prompt plus output; 0 = the model's (default: ${DEFAULT-VALUE}).")
    int maxModelLen;

    @Option(names = "--max-batch-tokens", defaultValue = "512",
            description = "Token budget of one scheduler step (default: ${DEFAULT-VALUE}).")
    int maxBatchTokens;

    @Option(names = "--max-seqs", defaultValue = "64",
            description = "Sequences in the running batch (default: ${DEFAULT-VALUE}).")
    int maxSeqs;

    @Option(names = "--max-waiting", defaultValue = "1024",
            description = "Waiting-queue bound; past it calls get RESOURCE_EXHAUSTED (default: ${DEFAULT-VALUE}).")
    int maxWaiting;

    @Option(names = "--no-prefix-caching", description = "Do not reuse the KV of shared prompt prefixes.")
    boolean noPrefixCaching;

    @Option(names = "--max-prompt-tokens", defaultValue = "0",
            description = "Longest prompt; 0 = the model's length (default: ${DEFAULT-VALUE}).")
    int maxPromptTokens;

    @Option(names = "--max-frames-per-step", defaultValue = "16",
            description = "Detection: frames batched into one step, across streams (default: ${DEFAULT-VALUE}).")
    int maxFramesPerStep;

    @Option(names = "--max-image-pixels", defaultValue = "16777216",
            description = "Detection: the most pixels (width x height) of a frame before resizing "
                    + "(default: ${DEFAULT-VALUE}).")
    long maxImagePixels;

    @Option(names = "--max-message-size", defaultValue = "4MiB", converter = ByteSize.class,
            description = "Largest gRPC message accepted (default: ${DEFAULT-VALUE}).")
    long maxMessageSize;

    @Option(names = "--max-concurrent-streams", defaultValue = "128",
            description = "Concurrent calls per HTTP/2 connection (default: ${DEFAULT-VALUE}).")
    int maxConcurrentStreams;

    @Option(names = "--max-upload-rate", defaultValue = "32MiB", converter = ByteSize.OrZero.class, paramLabel = "BYTES",
            description = "Bytes a second one client connection may upload (request bodies, gRPC messages, WebSocket"
                    + " frames, its streams together), after --upload-burst at full speed; past it the connection's"
                    + " reading pauses; 0 = no limit (default: ${DEFAULT-VALUE}).")
    long maxUploadRate;

    @Option(names = "--upload-burst", defaultValue = "16MiB", converter = ByteSize.class, paramLabel = "BYTES",
            description = "Bytes one connection may upload at full speed before --max-upload-rate holds it "
                    + "(default: ${DEFAULT-VALUE}).")
    long uploadBurst;

    @Option(names = "--max-jobs-per-session", defaultValue = "64",
            description = "Live jobs on one Session stream (default: ${DEFAULT-VALUE}).")
    int maxJobsPerSession;

    @Option(names = "--fair-wait-steps", defaultValue = "8",
            description = "With several models, the most consecutive steps of other models a busy model waits "
                    + "(default: ${DEFAULT-VALUE}).")
    int fairWaitSteps;

    @Option(names = "--grace-period", defaultValue = "30s",
            description = "On SIGTERM, how long in-flight calls may finish, e.g. 30s, 2m (default: ${DEFAULT-VALUE}).")
    String gracePeriod;

    @Option(names = "--warmup-calls", defaultValue = "4000",
            description = "Calls sent over loopback through the request path before health says SERVING, so that the"
                    + " first requests, and the first overload, do not meet it cold; each is refused INVALID_ARGUMENT"
                    + " and costs no model work; at most 15 s; 0 = none (default: ${DEFAULT-VALUE}).")
    int warmupCalls;

    @Option(names = "--allowed-origins", split = ",", paramLabel = "ORIGIN",
            description = "Web pages (scheme://host[:port], or *) that may open the WebSocket bridge besides the "
                    + "server's own origin; repeat or separate with commas (default: same origin only).")
    List<String> allowedOrigins = new ArrayList<>();

    @Option(names = "--api-keys", paramLabel = "FILE",
            description = "Require an API key (authorization: Bearer <key>) on gRPC, the OpenAI API and the WebSocket "
                    + "bridge: a file of tenant:key lines, each optionally followed by its tenant's own limits (max-jobs=N "
                    + "requests-per-second=R tokens-per-minute=T; the --tenant- flags are the defaults). Without it, keys come from $" + API_KEYS_ENV
                    + " (tenant:key,...) when set; with neither, no key is required.")
    Path apiKeys;

    @Option(names = "--metrics-need-key", description = "/metrics needs an API key too (health never does).")
    boolean metricsNeedKey;

    @Option(names = "--tenant-max-jobs", defaultValue = "0",
            description = "With API keys: jobs one tenant may have in flight; 0 = no limit (default: ${DEFAULT-VALUE}).")
    int tenantMaxJobs;

    @Option(names = "--tenant-requests-per-second", defaultValue = "0",
            description = "With API keys: jobs one tenant may start per second (a token bucket of one second); "
                    + "0 = no limit (default: ${DEFAULT-VALUE}).")
    double tenantRequestsPerSecond;

    @Option(names = "--tenant-tokens-per-minute", defaultValue = "0",
            description = "With API keys: tokens generated for one tenant per minute (a token bucket of one "
                    + "minute); 0 = no limit (default: ${DEFAULT-VALUE}).")
    long tenantTokensPerMinute;

    @Option(names = "--tls-cert", paramLabel = "PEM",
            description = "Serve TLS on the port (HTTP/2 by ALPN) with this certificate chain; needs --tls-key.")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "The private key of --tls-cert.")
    Path tlsKey;

    @Option(names = "--tls-client-ca", paramLabel = "PEM",
            description = "Require client certificates signed by these CAs (mutual TLS).")
    Path tlsClientCa;

    /** The TLS of {@code --tls-cert}, {@code --tls-key} and {@code --tls-client-ca}; null for cleartext. */
    TlsOptions tls() {
        if (tlsCert == null && tlsKey == null && tlsClientCa == null) return null;
        if (tlsCert == null || tlsKey == null) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together");
        }
        return new TlsOptions(tlsCert, tlsKey, tlsClientCa);
    }

    /** The environment variable read for API keys when {@code --api-keys} is not given. */
    public static final String API_KEYS_ENV = "TESSERA_API_KEYS";

    /** The API keys of {@code --api-keys} or {@value #API_KEYS_ENV}; null when neither is given. */
    ApiKeys apiKeys() {
        if (apiKeys != null) return ApiKeys.fromFile(apiKeys);
        String env = System.getenv(API_KEYS_ENV);
        return env == null || env.isBlank() ? null : ApiKeys.fromList(env, "$" + API_KEYS_ENV);
    }

    public GatewayOptions gatewayOptions() {
        return new GatewayOptions(host, port, maxConcurrentStreams, (int) Math.min(Integer.MAX_VALUE, maxMessageSize),
                maxJobsPerSession, Duration.parse("PT" + gracePeriod.toUpperCase()),
                GatewayOptions.defaults().streamBatch(), GatewayOptions.defaults().writeQueueMaxBytes(),
                EdgeOptions.defaults().withOrigins(new OriginPolicy(allowedOrigins)).withApiKeys(apiKeys())
                        .withMetricsNeedKey(metricsNeedKey).withTls(tls())
                        .withQuotas(new QuotaLimits(tenantMaxJobs, tenantRequestsPerSecond, tenantTokensPerMinute))
                        .withUploads(new UploadRate(maxUploadRate, uploadBurst)),
                warmupCalls);
    }

    /** The models to serve, in order; built-ins are generated into the cache first. */
    public List<ModelSpec> modelSpecs() {
        Path cache = cacheDir != null ? cacheDir : CacheDirs.defaultDir();
        List<ModelSpec> specs = new ArrayList<>();
        boolean controlNetAttached = false;
        for (String m : models()) {
            String ref = m.trim();
            Path dir = resolver.resolve(ref, cache);
            String name = resolver.servedName(ref);
            switch (CheckpointKind.of(dir)) {
                case TEXT_GENERATION -> specs.add(new ModelSpec.Text(engineOptions(dir, name), textConfig()));
                case DETECTION -> specs.add(detectorSpec(dir, name));
                case DIFFUSION -> {
                    DiffusionOptions options = new DiffusionOptions(dir, cache,
                            threads > 0 ? threads : Runtime.getRuntime().availableProcessors(), name);
                    if (controlNet != null && !controlNetAttached) {
                        options = options.withControlNet(controlNet);
                        controlNetAttached = true;
                    }
                    specs.add(new ModelSpec.Diffusion(options, DiffuseConfig.DEFAULTS));
                }
            }
        }
        if (controlNet != null && !controlNetAttached) {
            throw new IllegalArgumentException("--controlnet needs a diffusion pipeline among the models");
        }
        return specs;
    }

    /** The {@code --model} values, or the resolver's defaults when none was given. */
    public List<String> models() {
        if (!models.isEmpty()) return List.copyOf(models);
        if (resolver.defaults().isEmpty()) throw new IllegalArgumentException("--model is required");
        return resolver.defaults();
    }

    TextEngineOptions engineOptions(Path checkpoint, String name) {
        TextEngineOptions e = TextEngineOptions.defaults(checkpoint).withName(name)
                .withKvMemoryBytes(kvMemory)
                .withBlockSize(blockSize).withMaxBatchTokens(maxBatchTokens)
                .withMaxSeqs(Math.max(maxSeqs, dev.tessera.engine.text.sampling.SamplingParams.MAX_N))
                .withMaxModelLen(maxModelLen)
                .withQuantization(quantize)
                .withKvDtype(kvDtype)
                .withRowInvariant(batchInvariant);
        if (threads > 0) {
            e = e.withThreads(threads);
        }
        if (cacheDir != null) {
            e = e.withCacheDir(cacheDir);
        }
        return e;
    }

    ModelSpec.Detector detectorSpec(Path checkpoint, String name) {
        DetrOptions o = DetrOptions.defaults(checkpoint).withName(name).withMaxFramesPerStep(maxFramesPerStep)
                .withMaxPixels(maxImagePixels);
        if (threads > 0) {
            o = o.withThreads(threads);
        }
        if (cacheDir != null) {
            o = o.withCacheDir(cacheDir);
        }
        return new ModelSpec.Detector(o, DetectConfig.defaults().withMaxFramesPerStep(maxFramesPerStep));
    }

    TextConfig textConfig() {
        TextConfig c = TextConfig.defaults().withMaxNumSeqs(maxSeqs).withMaxBatchTokens(maxBatchTokens)
                .withMaxWaiting(maxWaiting).withPrefixCaching(!noPrefixCaching);
        return maxPromptTokens > 0 ? c.withMaxPromptTokens(maxPromptTokens) : c;
    }

    /** Heap a server needs besides its KV caches: requests, events, buffers, the tokenizers. */
    static final long HEAP_BESIDES_KV = 192L << 20;

    /**
     * The KV cache of each text model lives on the Java heap ({@code --kv-memory} each): refuses to start when the
     * heap ({@code -Xmx}) cannot hold them and {@value #HEAP_BESIDES_KV} bytes besides, instead of failing with
     * OutOfMemoryError under load.
     */
    void checkHeap(List<ModelSpec> specs, long maxHeap) {
        long textModels = specs.stream().filter(s -> s instanceof ModelSpec.Text).count();
        long need = textModels * kvMemory + HEAP_BESIDES_KV;
        if (maxHeap < need) {
            throw new IllegalArgumentException(textModels + " text model(s) with --kv-memory " + (kvMemory >> 20)
                    + " MiB each need a heap of at least " + (need >> 20) + " MiB, but -Xmx is " + (maxHeap >> 20)
                    + " MiB: raise it (bin/engine: TESSERA_HEAP=2g, or JAVA_OPTS=-Xmx2g) or lower --kv-memory");
        }
    }

    /** Exit code when the grace period ran out and calls in flight were cut off. */
    public static final int EXIT_CUT_OFF = 3;

    /**
     * Serves until SIGTERM or SIGINT, then drains: exit code 0 when every call in flight finished within the grace
     * period, {@value #EXIT_CUT_OFF} when some were cut off at its end.
     */
    @Override
    public Integer call() throws Exception {
        Scheduler.Builder loop = Scheduler.builder().maxWaitSteps(fairWaitSteps);
        List<ModelSpec> specs = modelSpecs();
        checkHeap(specs, Runtime.getRuntime().maxMemory());
        ShutdownSignal signal = ShutdownSignal.install();
        TesseraServer server = TesseraServer.start(gatewayOptions(), specs, loop);
        // Any other way out of the JVM (System.exit elsewhere, SIGHUP) still drains; shutdown() is idempotent.
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdown, "tessera-shutdown"));
        System.err.println("tessera: serving " + server.scheduler().models().stream().map(ModelCard::name).toList()
                + " on " + host + ":" + server.gateway().port() + " (Ctrl-C or SIGTERM drains and stops)");
        String name = signal.await();
        System.err.println("tessera: " + name + ", draining (grace " + gracePeriod + ")");
        boolean complete = server.shutdown();
        System.err.println(complete ? "tessera: drained, every call finished"
                : "tessera: grace period over, calls in flight were cut off");
        return complete ? 0 : EXIT_CUT_OFF;
    }
}
