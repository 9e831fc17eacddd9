fn main() {
    std::process::exit(drdrill::cli::main());
}
