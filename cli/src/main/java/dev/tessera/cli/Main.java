package dev.tessera.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import dev.tessera.gateway.launch.ServeCommand;
import dev.tessera.gateway.launch.ServerMain;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code bin/engine} command line: {@code serve}, {@code generate}, {@code detect}, {@code bench}, {@code loadtest}. */
@Command(name = "engine", mixinStandardHelpOptions = true, version = "tessera 0.1.0",
        description = "Tessera: a Java inference server (gRPC gateway, continuous-batching scheduler, paged KV cache).",
        subcommands = {GenerateCommand.class, DetectCommand.class, DiffuseCommand.class, BenchCommand.class,
            LoadtestCommand.class,
            CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit code. */
    public static int execute(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.addSubcommand("serve", new ServeCommand(new BuiltinModelResolver()));
        // Everything after 'bench NAME' belongs to the benchmark, options included.
        cli.getSubcommands().get("bench").setStopAtPositional(true);
        // A failure is one line naming the cause; the stack trace only with -Dtessera.trace=true.
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (Boolean.getBoolean("tessera.trace")) {
                ex.printStackTrace(cmd.getErr());
            }
            cmd.getErr().println("error: " + ex.getClass().getSimpleName() + ": " + ex.getMessage());
            return 1;
        });
        Path config = ServerMain.configFile(args);
        if (config != null) {
            if (!Files.isReadable(config)) {
                System.err.println("cannot read --config " + config);
                return 2;
            }
            cli.getSubcommands().get("serve")
                    .setDefaultValueProvider(new CommandLine.PropertiesDefaultProvider(config.toFile()));
        }
        return cli.execute(args);
    }

}
