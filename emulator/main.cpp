#include "nbcore_emulator/emulator.hpp"

int main(int argc, char** argv) { return nbcore::emulator::run_cli(argc, argv); }
