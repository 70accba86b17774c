"""posekit.engine"""
