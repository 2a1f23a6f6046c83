// autolm command-line tool: maps autolm::Error to exit code 2 (user-fixable) or 1 (internal).
#include <iostream>

#include "autolm/version.h"
#include "common.h"

int main(int argc, char** argv) {
  CLI::App app{"autolm: run Hugging Face model folders (transformers' Auto classes, in C++)"};
  app.set_version_flag("--version", std::string("autolm ") + autolm::version());
  app.require_subcommand(1);
  int rc = 0;
  try {
    autolm::cli::add_model_commands(app, rc);

    autolm::cli::add_generate_command(app, rc);


    autolm::cli::add_tokenizer_commands(app, rc);


    autolm::cli::add_chat_command(app, rc);
    autolm::cli::add_download_command(app, rc);
#ifdef AUTOLM_WITH_SERVER
    autolm::cli::add_serve_command(app, rc);
#endif

    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      const int code = app.exit(e);
      return code == 0 ? 0 : 2;
    }
  } catch (const autolm::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return autolm::cli::exit_code_for(e.kind());
  } catch (const std::bad_alloc&) {
    std::cerr << "error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n";
    return 1;
  }
  return rc;
}
