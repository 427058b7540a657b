package dev.tessera.gateway.launch;

import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine;

/**
 * The server's own entry point (the container image's): {@code serve} over checkpoint directories, with no CLI
 * clients, benchmarks or built-in model generators on the class path. Options as {@code bin/engine serve}; a
 * properties file given with {@code --config} sets defaults, and flags win over it.
 */
public final class ServerMain {
    private ServerMain() {
    }

    public static void main(String[] args) {
        System.exit(run(new ServeCommand(ModelResolver.directories()), args));
    }

    /** Runs {@code serve} with {@code args} (a leading "serve" is allowed) and returns the exit code. */
    public static int run(ServeCommand serve, String... args) {
        String[] rest = args.length > 0 && args[0].equals("serve")
                ? java.util.Arrays.copyOfRange(args, 1, args.length) : args;
        CommandLine cli = command(serve, rest);
        if (cli == null) return 2;
        return cli.execute(rest);
    }

    /**
     * The picocli command for {@code serve}, with the {@code --config} file's defaults; null (after a message) when
     * that file cannot be read.
     */
    public static CommandLine command(ServeCommand serve, String... args) {
        CommandLine cli = new CommandLine(serve);
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (Boolean.getBoolean("tessera.trace")) ex.printStackTrace(cmd.getErr());
            cmd.getErr().println("error: " + ex.getClass().getSimpleName() + ": " + ex.getMessage());
            return 1;
        });
        Path config = configFile(args);
        if (config != null) {
            if (!Files.isReadable(config)) {
                System.err.println("cannot read --config " + config);
                return null;
            }
            cli.setDefaultValueProvider(new CommandLine.PropertiesDefaultProvider(config.toFile()));
        }
        return cli;
    }

    /** The value of {@code --config FILE} or {@code --config=FILE}, or null. */
    public static Path configFile(String[] args) {
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--config") && i + 1 < args.length) return Path.of(args[i + 1]);
            if (args[i].startsWith("--config=")) return Path.of(args[i].substring("--config=".length()));
        }
        return null;
    }
}
