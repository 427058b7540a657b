package dev.tessera.loadtest.transport;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.loadtest.measure.RequestTrace;
import dev.tessera.loadtest.workload.LoadRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One {@code Inference/Generate} call per request, round robin over a few HTTP/2 connections. Callbacks run on the
 * transport threads (direct executor), so a token is timed when its frame is decoded.
 *
 * <p><b>Failover.</b> With several replicas, requests go to the first; when a stream breaks (UNAVAILABLE: the
 * replica died or drains) it goes on at the next replica with the tokens received so far as
 * {@code resume_token_ids}, as {@link dev.tessera.loadtest.FailoverGenerate} does, and its trace keeps timing it
 * as one request (a resume costs what the client sees: the gap before the next token).
 */
public final class GenerateTransport implements Transport {
    /** One replica's connections. */
    private record Replica(List<ManagedChannel> channels, List<InferenceGrpc.InferenceStub> stubs) {
    }

    private final List<Replica> replicas = new ArrayList<>();
    private final String model;
    private int next;

    public GenerateTransport(String host, int port, int connections, String model) {
        this(List.of(InetSocketAddress.createUnresolved(host, port)), connections, model);
    }

    /** @param replicas where requests go, the first first; a broken stream resumes on the next */
    public GenerateTransport(List<InetSocketAddress> replicas, int connections, String model) {
        if (connections < 1) throw new IllegalArgumentException("connections must be >= 1, got " + connections);
        if (replicas.isEmpty()) throw new IllegalArgumentException("no replica");
        for (InetSocketAddress at : replicas) {
            List<ManagedChannel> channels = new ArrayList<>();
            List<InferenceGrpc.InferenceStub> stubs = new ArrayList<>();
            for (int i = 0; i < connections; i++) {
                ManagedChannel ch = NettyChannelBuilder.forAddress(at.getHostString(), at.getPort()).usePlaintext()
                        .directExecutor().build();
                channels.add(ch);
                stubs.add(InferenceGrpc.newStub(ch));
            }
            this.replicas.add(new Replica(channels, stubs));
        }
        this.model = model;
    }

    @Override
    public void send(LoadRequest request, RequestTrace trace) {
        int connection = next;
        next = (next + 1) % replicas.get(0).stubs().size();
        new Call(Requests.grpc(request, model), trace, connection).start(0);
    }

    /** One request's stream, resumed on the next replica when it breaks. */
    private final class Call implements StreamObserver<GenerateResponse> {
        private final GenerateRequest request;
        private final RequestTrace trace;
        private final int connection;
        private final List<Integer> delivered = new ArrayList<>();
        private int replica;

        Call(GenerateRequest request, RequestTrace trace, int connection) {
            this.request = request;
            this.trace = trace;
            this.connection = connection;
        }

        void start(int at) {
            replica = at;
            GenerateRequest attempt = delivered.isEmpty() ? request
                    : request.toBuilder().clearResumeTokenIds().addAllResumeTokenIds(delivered).build();
            replicas.get(at).stubs().get(connection).generate(attempt, this);
        }

        @Override
        public void onNext(GenerateResponse value) {
            if (value.hasDelta() && value.getDelta().getTokenIdsCount() > 0) {
                delivered.addAll(value.getDelta().getTokenIdsList());
                trace.tokens(value.getDelta().getTokenIdsCount());
            }
        }

        @Override
        public void onError(Throwable t) {
            Status s = Status.fromThrowable(t);
            if (s.getCode() == Status.Code.UNAVAILABLE && replica + 1 < replicas.size()) {
                start(replica + 1);
                return;
            }
            trace.failed(s.getCode().name(), String.valueOf(s.getDescription()));
        }

        @Override
        public void onCompleted() {
            trace.completed(-1);
        }
    }

    @Override
    public String name() {
        return "grpc";
    }

    @Override
    public void close() {
        for (Replica r : replicas) r.channels().forEach(ManagedChannel::shutdownNow);
        try {
            for (Replica r : replicas) {
                for (ManagedChannel ch : r.channels()) ch.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
