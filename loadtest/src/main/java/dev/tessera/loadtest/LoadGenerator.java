package dev.tessera.loadtest;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * Drives the {@code Generate} RPC of a Tessera server with {@link LoadSpec#clients()} concurrent clients, each on
 * its own channel (HTTP/2 connection), each sending its requests one after the other. Non-blocking: one thread
 * per channel is enough.
 */
public final class LoadGenerator {
    private final String host;
    private final int port;

    public LoadGenerator(String host, int port) {
        if (port <= 0 || port > 65535) {
            throw new IllegalArgumentException("port must be in 1..65535, got " + port);
        }
        this.host = host;
        this.port = port;
    }

    /** Runs the workload to the end and reports. */
    public LoadReport run(LoadSpec spec) throws InterruptedException {
        List<ManagedChannel> channels = new ArrayList<>();
        for (int c = 0; c < spec.clients(); c++) {
            channels.add(NettyChannelBuilder.forAddress(host, port).usePlaintext().directExecutor().build());
        }
        Histogram ttft = new ConcurrentHistogram(3);
        Histogram itl = new ConcurrentHistogram(3);
        AtomicLong tokens = new AtomicLong();
        AtomicLong ok = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        AtomicReference<String> firstError = new AtomicReference<>("");
        try {
            long start = System.nanoTime();
            List<CompletableFuture<Void>> clients = new ArrayList<>();
            for (int c = 0; c < spec.clients(); c++) {
                ClientLoop loop = new ClientLoop(InferenceGrpc.newStub(channels.get(c)), spec, c, ttft, itl, tokens,
                        ok, errors, firstError);
                clients.add(loop.start());
            }
            CompletableFuture.allOf(clients.toArray(CompletableFuture[]::new)).join();
            double seconds = (System.nanoTime() - start) / 1e9;
            return new LoadReport(ok.get(), errors.get(), tokens.get(), seconds, ms(ttft, 50), ms(ttft, 99),
                    ms(itl, 50), ms(itl, 99), firstError.get());
        } finally {
            for (ManagedChannel ch : channels) {
                ch.shutdownNow();
            }
            for (ManagedChannel ch : channels) {
                ch.awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }

    private static double ms(Histogram h, double percentile) {
        return h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(percentile) / 1e3;
    }

    /** Builds the request of one workload item. */
    static GenerateRequest request(LoadSpec spec, int client, int i) {
        return GenerateRequest.newBuilder()
                .setPrompt(spec.prompt(client, i))
                .setSampling(SamplingParams.newBuilder().setMaxTokens(spec.maxTokens()).setTemperature(0)
                        .setIgnoreEos(spec.ignoreEos()))
                .build();
    }

    /** One client: sends request i+1 when request i ends. */
    private static final class ClientLoop {
        private final InferenceGrpc.InferenceStub stub;
        private final LoadSpec spec;
        private final int client;
        private final Histogram ttft;
        private final Histogram itl;
        private final AtomicLong tokens;
        private final AtomicLong ok;
        private final AtomicLong errors;
        private final AtomicReference<String> firstError;
        private final CompletableFuture<Void> done = new CompletableFuture<>();

        ClientLoop(InferenceGrpc.InferenceStub stub, LoadSpec spec, int client, Histogram ttft, Histogram itl,
                   AtomicLong tokens, AtomicLong ok, AtomicLong errors, AtomicReference<String> firstError) {
            this.stub = stub;
            this.spec = spec;
            this.client = client;
            this.ttft = ttft;
            this.itl = itl;
            this.tokens = tokens;
            this.ok = ok;
            this.errors = errors;
            this.firstError = firstError;
        }

        CompletableFuture<Void> start() {
            send(0);
            return done;
        }

        private void send(int i) {
            if (i == spec.requestsPerClient()) {
                done.complete(null);
                return;
            }
            long sent = System.nanoTime();
            stub.generate(request(spec, client, i), new StreamObserver<>() {
                private long last = sent;
                private boolean first = true;

                @Override
                public void onNext(GenerateResponse value) {
                    if (!value.hasDelta()) {
                        return;
                    }
                    long now = System.nanoTime();
                    int n = value.getDelta().getTokenIdsCount();
                    if (n == 0) {
                        return;
                    }
                    tokens.addAndGet(n);
                    long micros = Math.max(0, (now - last) / 1000);
                    if (first) {
                        ttft.recordValue(micros);
                        first = false;
                    } else {
                        itl.recordValue(micros);
                    }
                    last = now;
                }

                @Override
                public void onError(Throwable t) {
                    errors.incrementAndGet();
                    firstError.compareAndSet("", Status.fromThrowable(t).toString());
                    send(i + 1);
                }

                @Override
                public void onCompleted() {
                    ok.incrementAndGet();
                    send(i + 1);
                }
            });
        }
    }
}
