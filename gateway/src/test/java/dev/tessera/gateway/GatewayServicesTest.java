package dev.tessera.gateway;

import static dev.tessera.gateway.GatewayTestSupport.generateAlone;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.ByteString;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.ListModelsRequest;
import dev.tessera.api.v1.ListModelsResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Reflection, health, metrics and the HTTP probes, on the same port as the API. */
@Timeout(60)
class GatewayServicesTest {
    private static FakeJobService fake;
    private static GatewayServer server;
    private static ManagedChannel channel;

    @BeforeAll
    static void start() {
        fake = new FakeJobService(Duration.ZERO);
        server = GatewayServer.start(GatewayTestSupport.loopback());
        server.serve(fake);
        channel = GatewayTestSupport.channel(server);
    }

    @AfterAll
    static void stop() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.shutdown(Duration.ofSeconds(5));
        fake.close();
    }

    private static List<ServerReflectionResponse> reflect(ServerReflectionRequest request) throws Exception {
        List<ServerReflectionResponse> out = new CopyOnWriteArrayList<>();
        CompletableFuture<Void> done = new CompletableFuture<>();
        StreamObserver<ServerReflectionRequest> in = ServerReflectionGrpc.newStub(channel)
                .serverReflectionInfo(new StreamObserver<>() {
                    @Override
                    public void onNext(ServerReflectionResponse value) {
                        out.add(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                        done.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                        done.complete(null);
                    }
                });
        in.onNext(request);
        in.onCompleted();
        done.get(10, TimeUnit.SECONDS);
        return out;
    }

    @Test
    void reflectionListsAndDescribesTheService() throws Exception {
        List<ServerReflectionResponse> list = reflect(ServerReflectionRequest.newBuilder().setListServices("*").build());
        List<String> names = list.get(0).getListServicesResponse().getServiceList().stream()
                .map(ServiceResponse::getName).collect(Collectors.toList());
        assertTrue(names.contains("tessera.v1.Inference"), "services: " + names);
        assertTrue(names.contains("grpc.health.v1.Health"), "services: " + names);

        List<ServerReflectionResponse> file = reflect(ServerReflectionRequest.newBuilder()
                .setFileContainingSymbol("tessera.v1.Inference").build());
        List<ByteString> protos = file.get(0).getFileDescriptorResponse().getFileDescriptorProtoList();
        boolean found = false;
        for (ByteString bytes : protos) {
            FileDescriptorProto p = FileDescriptorProto.parseFrom(bytes);
            found |= p.getServiceList().stream().anyMatch(s -> s.getName().equals("Inference"));
        }
        assertTrue(found, "the file descriptor of tessera.v1.Inference is served");
    }

    @Test
    void healthSaysServing() {
        HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);
        assertEquals(HealthCheckResponse.ServingStatus.SERVING,
                health.check(HealthCheckRequest.getDefaultInstance()).getStatus());
        assertEquals(HealthCheckResponse.ServingStatus.SERVING,
                health.check(HealthCheckRequest.newBuilder().setService("tessera.v1.Inference").build())
                        .getStatus());
    }

    @Test
    void listModelsNamesTheServedModel() {
        ListModelsResponse r = InferenceGrpc.newBlockingStub(channel).listModels(ListModelsRequest.getDefaultInstance());
        assertEquals("fake-tiny", r.getModels(0).getName());
    }

    @Test
    void metricsShowTheServingSeriesAfterARequest() throws Exception {
        generateAlone(channel, "for the metrics", 5);
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, metrics.statusCode());
        String body = metrics.body();
        for (String series : List.of("vllm:num_requests_running{", "vllm:num_requests_waiting{",
                "vllm:kv_cache_usage_perc{", "vllm:time_to_first_token_seconds_bucket{",
                "vllm:inter_token_latency_seconds_bucket{", "vllm:e2e_request_latency_seconds_bucket{",
                "vllm:request_queue_time_seconds_bucket{", "vllm:num_preemptions_total{",
                "vllm:prefix_cache_hits_total{", "vllm:prefix_cache_queries_total{", "tessera:batch_size_bucket{",
                "vllm:request_success_total{finished_reason=\"length\"", "tessera:gateway_calls_active ")) {
            assertTrue(body.contains(series), "/metrics has " + series);
        }
        assertTrue(body.contains("vllm:kv_cache_usage_perc{model_name=\"fake-tiny\"} 0.25"), "kv usage is live");
        assertEquals(200, http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/healthz"))
                .build(), HttpResponse.BodyHandlers.ofString()).statusCode());
        assertEquals(200, http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/readyz"))
                .build(), HttpResponse.BodyHandlers.ofString()).statusCode());
    }

    @Test
    void whileLoadingHealthIsNotServingAndCallsAreUnavailable() throws Exception {
        GatewayServer loading = GatewayServer.start(GatewayTestSupport.loopback());
        ManagedChannel ch = GatewayTestSupport.channel(loading);
        try {
            assertEquals(HealthCheckResponse.ServingStatus.NOT_SERVING, HealthGrpc.newBlockingStub(ch)
                    .check(HealthCheckRequest.getDefaultInstance()).getStatus());
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> generateAlone(ch, "too early", 3));
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
            assertTrue(e.getStatus().getDescription().contains("loading"));
            HttpResponse<String> ready = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + loading.port() + "/readyz")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(503, ready.statusCode());
        } finally {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            loading.shutdown(Duration.ofSeconds(1));
        }
    }
}
