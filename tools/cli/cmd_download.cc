// `autolm download org/name[@revision]`: brings what autolm needs of a Hub model into the
// Hugging Face cache (io/hub_download.h) without running it; prints the snapshot folder.
#include <iostream>

#include "common.h"
#include "io/download_progress.h"
#include "io/hub_download.h"

namespace autolm::cli {

void add_download_command(CLI::App& app, int& rc) {
  auto id_text = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("download", "download a Hub model into the Hugging Face cache (prints its folder)");
  cmd->add_option("model", *id_text, "Hub model id: org/name[@revision]")->required();
  cmd->callback([id_text, &rc] {
    const auto id = parse_hub_model_id(*id_text);
    if (!id)
      throw Error(ErrorKind::kInvalidInput, "\"" + *id_text + "\" is not a Hub model id (org/name or org/name@revision)");
    const HubSettings settings = HubSettings::from_environment();
    if (settings.offline)
      throw Error(ErrorKind::kInvalidInput, "HF_HUB_OFFLINE is set: nothing can be downloaded (unset it to download " +
                                                id->repo_id + ")");
    const HubDownloadReport r = hub_download(*id, settings);
    std::cerr << id->repo_id << "@" << r.commit << ": " << r.files_downloaded << " file"
              << (r.files_downloaded == 1 ? "" : "s") << " downloaded (" << human_bytes(double(r.bytes_downloaded))
              << ")\n";
    std::cout << r.snapshot_dir << "\n";
    rc = 0;
  });
}

}  // namespace autolm::cli
