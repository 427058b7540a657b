package dev.tessera.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tessera.api.v1.Cancel;
import dev.tessera.api.v1.DetectRequest;
import dev.tessera.api.v1.Detection;
import dev.tessera.api.v1.Detections;
import dev.tessera.api.v1.FinishReason;
import dev.tessera.api.v1.Image;
import dev.tessera.api.v1.ImageFormat;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.ListModelsRequest;
import dev.tessera.api.v1.ListModelsResponse;
import dev.tessera.api.v1.ModelKind;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.detect.DetrOptions;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.detect.DetectConfig;
import dev.tessera.scheduler.text.TextConfig;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Detection through the gateway on the real core and the built-in tiny detector, served beside the built-in text
 * model: ListModels, the bidirectional Detect RPC, detection streams on a Session next to text jobs, bad frames.
 */
@Timeout(180)
class GatewayDetectTest {
    @TempDir
    static Path cache;
    private static TesseraServer tessera;
    private static ManagedChannel channel;

    @BeforeAll
    static void start() {
        ModelSpec text = new ModelSpec.Text(TextEngineOptions.defaults(BuiltinModels.materialize("tiny", cache))
                .withName("tiny").withCacheDir(cache).withThreads(2).withKvMemoryBytes(16L << 20),
                TextConfig.defaults());
        ModelSpec detector = new ModelSpec.Detector(DetrOptions.defaults(BuiltinModels.materialize("detr-tiny",
                cache)).withName("detr-tiny").withCacheDir(cache).withThreads(2), DetectConfig.defaults());
        tessera = TesseraServer.start(GatewayTestSupport.loopback(), List.of(text, detector), Scheduler.builder());
        channel = GatewayTestSupport.channel(tessera.gateway());
    }

    @AfterAll
    static void stop() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        tessera.close();
    }

    static Image png(int width, int height, int seed) throws Exception {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        java.util.Random rnd = new java.util.Random(seed);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) img.setRGB(x, y, rnd.nextInt(1 << 24));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return Image.newBuilder().setData(ByteString.copyFrom(out.toByteArray()))
                .setFormat(ImageFormat.IMAGE_FORMAT_PNG).build();
    }

    private static DetectRequest frame(long id, Image image) {
        return DetectRequest.newBuilder().setFrameId(id).setImage(image).setThreshold(0f).setMaxDetections(5)
                .build();
    }

    /** Runs a Detect call over {@code frames}; returns the answers and the final status. */
    private static Result detect(List<DetectRequest> frames) throws Exception {
        List<Detections> answers = new CopyOnWriteArrayList<>();
        CompletableFuture<Status> status = new CompletableFuture<>();
        StreamObserver<DetectRequest> requests = InferenceGrpc.newStub(channel).detect(new StreamObserver<>() {
            @Override
            public void onNext(Detections value) {
                answers.add(value);
            }

            @Override
            public void onError(Throwable t) {
                status.complete(Status.fromThrowable(t));
            }

            @Override
            public void onCompleted() {
                status.complete(Status.OK);
            }
        });
        for (DetectRequest f : frames) requests.onNext(f);
        requests.onCompleted();
        return new Result(answers, status.get(60, TimeUnit.SECONDS));
    }

    record Result(List<Detections> answers, Status status) {
    }

    @Test
    void listModelsReportsBothKinds() {
        ListModelsResponse models = InferenceGrpc.newBlockingStub(channel)
                .listModels(ListModelsRequest.getDefaultInstance());
        assertEquals(2, models.getModelsCount());
        assertEquals("tiny", models.getModels(0).getName());
        assertEquals(ModelKind.MODEL_KIND_TEXT_GENERATION, models.getModels(0).getKind());
        assertEquals("detr-tiny", models.getModels(1).getName());
        assertEquals(ModelKind.MODEL_KIND_DETECTION, models.getModels(1).getKind());
        assertEquals("DetrForObjectDetection", models.getModels(1).getArchitecture());
        assertTrue(models.getModels(0).getIsDefault() && models.getModels(1).getIsDefault());
        assertTrue(models.getModels(1).getLabelsCount() > 0);
    }

    @Test
    void detectStreamsAnswersEchoingFrameIdsAndEndsOkAfterTheLastFrame() throws Exception {
        List<DetectRequest> frames = new ArrayList<>();
        int[][] sizes = {{120, 90}, {64, 128}, {200, 100}};
        for (int i = 0; i < sizes.length; i++) frames.add(frame(i + 1, png(sizes[i][0], sizes[i][1], i)));
        Result r = detect(frames);
        assertEquals(Status.Code.OK, r.status().getCode(), r.status().toString());
        assertFalse(r.answers().isEmpty());
        Detections last = r.answers().get(r.answers().size() - 1);
        assertEquals(3, last.getFrameId(), "the newest frame is always answered");
        int accounted = 0;
        long previous = 0;
        for (Detections d : r.answers()) {
            assertTrue(d.getFrameId() > previous, "answers in frame order");
            previous = d.getFrameId();
            accounted += 1 + d.getSkippedFrames();
            assertTrue(d.getDetectionsCount() <= 5, "max_detections holds");
            int[] size = sizes[(int) d.getFrameId() - 1];
            float best = Float.POSITIVE_INFINITY;
            for (Detection det : d.getDetectionsList()) {
                assertTrue(det.getScore() <= best, "best first");
                best = det.getScore();
                assertTrue(det.getBox().getXMin() >= -1 && det.getBox().getXMax() <= size[0] + 1, det.toString());
                assertTrue(det.getBox().getYMin() >= -1 && det.getBox().getYMax() <= size[1] + 1, det.toString());
                assertFalse(det.getLabel().isEmpty());
            }
            assertTrue(d.getTimings().getE2EMs() >= d.getTimings().getQueueMs());
        }
        assertEquals(3, accounted, "every frame answered or counted as skipped");
    }

    @Test
    void aBadFrameEndsTheCallWithInvalidArgumentNamingTheField() throws Exception {
        Image corrupt = Image.newBuilder().setData(ByteString.copyFromUtf8("\u0089PNG not really"))
                .setFormat(ImageFormat.IMAGE_FORMAT_PNG).build();
        Result r = detect(List.of(frame(1, corrupt)));
        assertEquals(Status.Code.INVALID_ARGUMENT, r.status().getCode(), r.status().toString());
        assertTrue(r.status().getDescription().startsWith("image.data"), r.status().getDescription());

        Result nan = detect(List.of(frame(1, png(32, 32, 1)).toBuilder().setThreshold(Float.NaN).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, nan.status().getCode());
        assertTrue(nan.status().getDescription().startsWith("threshold"), nan.status().getDescription());

        Result zero = detect(List.of(frame(1, png(32, 32, 1)).toBuilder().setMaxDetections(0).build()));
        assertTrue(zero.status().getDescription().startsWith("max_detections"), zero.status().getDescription());

        Result gif = detect(List.of(frame(1, Image.newBuilder().setData(ByteString.copyFromUtf8("GIF89a....."))
                .build())));
        assertEquals(Status.Code.INVALID_ARGUMENT, gif.status().getCode());
        assertTrue(gif.status().getDescription().startsWith("image"), gif.status().getDescription());
    }

    @Test
    void onASessionDetectionStreamsRunBesideTextJobsAndABadFrameFailsOnlyItsStream() throws Exception {
        List<SessionResponse> responses = new CopyOnWriteArrayList<>();
        CompletableFuture<Status> done = new CompletableFuture<>();
        StreamObserver<SessionRequest> requests = InferenceGrpc.newStub(channel).session(new StreamObserver<>() {
            @Override
            public void onNext(SessionResponse value) {
                responses.add(value);
            }

            @Override
            public void onError(Throwable t) {
                done.complete(Status.fromThrowable(t));
            }

            @Override
            public void onCompleted() {
                done.complete(Status.OK);
            }
        });
        requests.onNext(SessionRequest.newBuilder().setRequestId("text")
                .setGenerate(GatewayTestSupport.request("Once upon a time", 12)).build());
        requests.onNext(SessionRequest.newBuilder().setRequestId("cam").setDetect(frame(1, png(80, 60, 1)))
                .build());
        requests.onNext(SessionRequest.newBuilder().setRequestId("bad").setDetect(DetectRequest.newBuilder()
                .setFrameId(1).setImage(Image.newBuilder().setData(ByteString.copyFromUtf8("nope"))
                        .setFormat(ImageFormat.IMAGE_FORMAT_JPEG))).build());
        requests.onNext(SessionRequest.newBuilder().setRequestId("gone").setDetect(frame(1, png(40, 40, 2)))
                .build());
        requests.onNext(SessionRequest.newBuilder().setRequestId("gone").setCancel(Cancel.getDefaultInstance())
                .build());
        GatewayTestSupport.eventually("the first frame of cam answered",
                () -> responses.stream().anyMatch(r -> r.getRequestId().equals("cam") && r.hasDetections()));
        requests.onNext(SessionRequest.newBuilder().setRequestId("cam").setDetect(frame(2, png(60, 80, 3)))
                .build());
        requests.onCompleted();
        assertEquals(Status.Code.OK, done.get(60, TimeUnit.SECONDS).getCode());

        SessionResponse bad = only(responses, "bad");
        assertEquals(Status.Code.INVALID_ARGUMENT.value(), bad.getError().getCode());
        assertEquals("image.data", bad.getError().getField());
        List<SessionResponse> cam = of(responses, "cam");
        assertTrue(cam.stream().filter(SessionResponse::hasDetections).anyMatch(r -> r.getDetections()
                .getFrameId() == 2), "the second frame of the stream answered: " + cam);
        SessionResponse camEnd = cam.get(cam.size() - 1);
        assertEquals(FinishReason.FINISH_REASON_STOP, camEnd.getFinished().getReason(), "ended by the half-close");
        assertEquals(2, camEnd.getFinished().getUsage().getPromptTokens(), "two frames received");
        SessionResponse goneEnd = of(responses, "gone").get(of(responses, "gone").size() - 1);
        assertEquals(FinishReason.FINISH_REASON_CANCELLED, goneEnd.getFinished().getReason());
        List<SessionResponse> text = of(responses, "text");
        assertEquals(FinishReason.FINISH_REASON_LENGTH, text.get(text.size() - 1).getFinished().getReason());
    }

    private static List<SessionResponse> of(List<SessionResponse> all, String id) {
        return all.stream().filter(r -> r.getRequestId().equals(id)).toList();
    }

    private static SessionResponse only(List<SessionResponse> all, String id) {
        List<SessionResponse> mine = of(all, id);
        assertEquals(1, mine.size(), mine.toString());
        return mine.get(0);
    }
}
