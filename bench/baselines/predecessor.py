"""The seed's predecessor, as the issue and the write-up describe it: on
exit, driver.quit() and a fixed 1 s wait ("Insufficient Wait Time: only
1 second wait after driver.quit()"), nothing tracked, nothing verified."""
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from common.chrome import CHROMEDRIVER

FIXED_WAIT_S = 1.0


class ChromeWithFullCleanup:
    def __init__(self, options):
        self.options = options
        self.driver = None

    def __enter__(self):
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=self.options)
        return self.driver

    def __exit__(self, exc_type, exc_val, exc_tb):
        try:
            self.driver.quit()
        except Exception:
            pass
        time.sleep(FIXED_WAIT_S)
        return False
