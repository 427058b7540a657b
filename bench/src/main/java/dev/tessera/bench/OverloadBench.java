package dev.tessera.bench;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.builtin.ModelRef;
import dev.tessera.engine.CacheDirs;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.gateway.GatewayOptions;
import dev.tessera.gateway.ModelSpec;
import dev.tessera.gateway.TesseraServer;
import dev.tessera.loadtest.LoadGenerator;
import dev.tessera.loadtest.LoadReport;
import dev.tessera.loadtest.LoadSpec;
import dev.tessera.scheduler.core.ModelStats;
import dev.tessera.scheduler.text.TextConfig;
import dev.tessera.scheduler.text.TextStats;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bench overload}: a server on loopback ({@code builtin:tiny} by default, in this process) is first run at
 * its capacity (closed loop: {@code capacity_rps}), then offered {@code --factor} times that (open loop, a request
 * every 1/offered_rps, for {@code --seconds}) with a small waiting queue: how fast the excess is refused
 * ({@code reject_ms}), the time to first token of what is accepted, and whether the waiting queue ever passed its
 * bound ({@code waiting_peak}, sampled every millisecond). Then a greedy canary stream runs alone and again while
 * 4 MB prompts are sent and refused beside it: the largest gap between its messages in each case ({@code stall}).
 * {@code rss_mb} is this process's resident memory (server and clients together) after the load and at the end.
 */
@Command(name = "overload", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Overload: refusal latency, accepted TTFT, waiting bound, canary stall beside 4 MB prompts.")
public final class OverloadBench implements Callable<Integer> {
    @Option(names = "--json", description = "Print the result as a JSON object on the last stdout line.")
    boolean json;

    @Option(names = "--model", defaultValue = "builtin:tiny", description = "Model (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--seconds", defaultValue = "10", description = "Overload duration (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--factor", defaultValue = "10", description = "Offered / capacity (default: ${DEFAULT-VALUE}).")
    double factor;

    @Option(names = "--max-waiting", defaultValue = "16", description = "Waiting bound (default: ${DEFAULT-VALUE}).")
    int maxWaiting;

    @Option(names = "--max-tokens", defaultValue = "16", description = "Tokens per request (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--threads", defaultValue = "0", description = "Compute threads; 0 = all cores.")
    int threads;

    /** Runs with command-line arguments; returns the exit code. */
    public static int run(String... args) {
        return new CommandLine(new OverloadBench()).execute(args);
    }

    @Override
    public Integer call() throws Exception {
        ModelRef ref = new ModelRef(model);
        TextEngineOptions engine = TextEngineOptions.defaults(ref.resolve(CacheDirs.defaultDir()))
                .withName(ref.servedName()).withKvMemoryBytes(64L << 20);
        if (threads > 0) engine = engine.withThreads(threads);
        GatewayOptions gateway = GatewayOptions.defaults().withHost("127.0.0.1").withPort(0)
                .withMaxMessageBytes(8 << 20);
        TextConfig lane = TextConfig.defaults().withMaxWaiting(maxWaiting);
        Map<String, Object> out = new LinkedHashMap<>();
        try (TesseraServer server = TesseraServer.start(gateway, new ModelSpec.Text(engine, lane))) {
            int port = server.gateway().port();
            String name = ref.servedName();
            List<String> prompts = List.of("Overload is refused at once.", "Accepted work keeps its pace.",
                    "The queue never passes its bound.", "A canary sings beside a storm.");
            LoadGenerator load = new LoadGenerator("127.0.0.1", port);
            load.run(new LoadSpec(8, 4, prompts, maxTokens, true)); // warm-up
            LoadReport capacity = load.run(new LoadSpec(16, 8, prompts, maxTokens, true));
            double capacityRps = capacity.requests() / capacity.seconds();
            double offeredRps = capacityRps * factor;

            Overload result = overload(port, server, name, offeredRps, prompts);
            long rssAfterLoad = rssMb();
            double solo = canaryMaxGap(port, false);
            double beside = canaryMaxGap(port, true);

            out.put("capacity_rps", round(capacityRps));
            out.put("offered_rps", round(offeredRps));
            out.put("accepted", result.accepted.get());
            out.put("rejected", result.rejected.get());
            out.put("other_errors", result.otherErrors.get());
            out.put("reject_ms", percentiles(result.rejectMs));
            out.put("accepted_ttft_ms", percentiles(result.ttftMs));
            out.put("waiting_peak", result.waitingPeak.get());
            out.put("max_waiting", maxWaiting);
            out.put("stall", Map.of("canary_max_gap_ms", round(beside), "canary_solo_max_gap_ms", round(solo)));
            out.put("rss_mb", Map.of("after_load", rssAfterLoad, "after_run", rssMb()));
        }
        System.err.printf(Locale.ROOT, "overload: %s%n", Json.write(out));
        if (json) System.out.println(Json.write(out));
        return 0;
    }

    private static final class Overload {
        final AtomicLong accepted = new AtomicLong();
        final AtomicLong rejected = new AtomicLong();
        final AtomicLong otherErrors = new AtomicLong();
        final AtomicInteger waitingPeak = new AtomicInteger();
        final ConcurrentLinkedQueue<Double> rejectMs = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<Double> ttftMs = new ConcurrentLinkedQueue<>();
    }

    /** Open loop: one request every 1/rps for {@code seconds}, over 8 connections; waits for all to end. */
    private Overload overload(int port, TesseraServer server, String name, double rps, List<String> prompts)
            throws InterruptedException {
        Overload o = new Overload();
        List<ManagedChannel> channels = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            channels.add(NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build());
        }
        Thread sampler = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                ModelStats s = server.scheduler().stats(name);
                if (s instanceof TextStats t) o.waitingPeak.accumulateAndGet(t.waiting(), Math::max);
                LockSupport.parkNanos(1_000_000);
            }
        }, "waiting-sampler");
        sampler.setDaemon(true);
        sampler.start();
        long total = Math.max(1, Math.round(rps * seconds));
        CountDownLatch done = new CountDownLatch((int) total);
        long start = System.nanoTime();
        long interval = (long) (1e9 / rps);
        try {
            for (long i = 0; i < total; i++) {
                long at = start + i * interval;
                long wait = at - System.nanoTime();
                if (wait > 0) LockSupport.parkNanos(wait);
                GenerateRequest r = GenerateRequest.newBuilder().setPrompt(prompts.get((int) (i % prompts.size())))
                        .setSampling(SamplingParams.newBuilder().setMaxTokens(maxTokens).setIgnoreEos(true)).build();
                long sent = System.nanoTime();
                InferenceGrpc.newStub(channels.get((int) (i % channels.size()))).generate(r, new StreamObserver<>() {
                    boolean first = true;

                    @Override
                    public void onNext(GenerateResponse value) {
                        if (first && value.hasDelta()) {
                            first = false;
                            o.accepted.incrementAndGet();
                            o.ttftMs.add((System.nanoTime() - sent) / 1e6);
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                        if (Status.fromThrowable(t).getCode() == Status.Code.RESOURCE_EXHAUSTED && first) {
                            o.rejected.incrementAndGet();
                            o.rejectMs.add((System.nanoTime() - sent) / 1e6);
                        } else {
                            o.otherErrors.incrementAndGet();
                        }
                        done.countDown();
                    }

                    @Override
                    public void onCompleted() {
                        done.countDown();
                    }
                });
            }
            if (!done.await(120, TimeUnit.SECONDS)) throw new IllegalStateException("requests did not end");
        } finally {
            sampler.interrupt();
            for (ManagedChannel c : channels) c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        return o;
    }

    /**
     * A greedy stream of 256 tokens; the largest gap between its messages in ms. With {@code hostile}, 4 MB
     * prompts are sent one after another beside it (each is refused) until it ends.
     */
    private static double canaryMaxGap(int port, boolean hostile) throws Exception {
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
                .maxInboundMessageSize(16 << 20).build();
        ManagedChannel storm = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        try {
            GenerateRequest canary = GenerateRequest.newBuilder().setPrompt("The canary sings")
                    .setSampling(SamplingParams.newBuilder().setTemperature(0).setMaxTokens(256).setIgnoreEos(true))
                    .build();
            GenerateRequest huge = GenerateRequest.newBuilder().setPrompt("a".repeat(4_000_000))
                    .setSampling(SamplingParams.newBuilder().setMaxTokens(4)).build();
            CountDownLatch started = new CountDownLatch(1);
            Thread sender = new Thread(() -> {
                try {
                    started.await();
                    while (!Thread.currentThread().isInterrupted()) {
                        try {
                            InferenceGrpc.newBlockingStub(storm).generate(huge).forEachRemaining(m -> { });
                        } catch (RuntimeException refused) {
                            // INVALID_ARGUMENT: the prompt is over the limit, as intended
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "huge-prompts");
            if (hostile) sender.start();
            long last = System.nanoTime();
            double maxGap = 0;
            var it = InferenceGrpc.newBlockingStub(channel).generate(canary);
            boolean first = true;
            while (it.hasNext()) {
                it.next();
                long now = System.nanoTime();
                if (first) {
                    first = false; // the first gap is the time to first token, not a stall
                    started.countDown();
                } else {
                    maxGap = Math.max(maxGap, (now - last) / 1e6);
                }
                last = now;
            }
            sender.interrupt();
            sender.join(30_000);
            return maxGap;
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            storm.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private static Map<String, Object> percentiles(ConcurrentLinkedQueue<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("p50", v.length == 0 ? 0 : round(v[(int) Math.min(v.length - 1, Math.floor(v.length * 0.50))]));
        m.put("p99", v.length == 0 ? 0 : round(v[(int) Math.min(v.length - 1, Math.floor(v.length * 0.99))]));
        return m;
    }

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }

    /** Resident memory of this process in MB (Linux), or -1. */
    private static long rssMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (Exception e) {
            return -1;
        }
        return -1;
    }
}
